package elbv2

import (
	"maps"
	"strings"

	"github.com/albatross-lb/albatross/internal/control"
)

// listenerAttributeDefaults are ALB's listener attributes (elbv2-api.md
// §3.10) and their defaults. Terraform's aws_lb_listener reads them. They are
// stored and returned; none acts on traffic yet.
var listenerAttributeDefaults = map[string]string{
	"routing.http.response.server.enabled":                                  "true",
	"routing.http.response.strict_transport_security.header_value":          "",
	"routing.http.response.access_control_allow_origin.header_value":        "",
	"routing.http.response.access_control_allow_methods.header_value":       "",
	"routing.http.response.access_control_allow_headers.header_value":       "",
	"routing.http.response.access_control_allow_credentials.header_value":   "",
	"routing.http.response.access_control_expose_headers.header_value":      "",
	"routing.http.response.access_control_max_age.header_value":             "",
	"routing.http.response.content_security_policy.header_value":            "",
	"routing.http.response.x_content_type_options.header_value":             "",
	"routing.http.response.x_frame_options.header_value":                    "",
	"routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name": "",
	"routing.http.request.x_amzn_mtls_clientcert_issuer.header_name":        "",
	"routing.http.request.x_amzn_mtls_clientcert_subject.header_name":       "",
	"routing.http.request.x_amzn_mtls_clientcert_validity.header_name":      "",
	"routing.http.request.x_amzn_mtls_clientcert_leaf.header_name":          "",
	"routing.http.request.x_amzn_mtls_clientcert.header_name":               "",
	"routing.http.request.x_amzn_tls_version.header_name":                   "",
	"routing.http.request.x_amzn_tls_cipher_suite.header_name":              "",
}

func listenerAttributes(l *control.Listener) map[string]string {
	out := maps.Clone(listenerAttributeDefaults)
	maps.Copy(out, l.Attributes)
	return out
}

func describeListenerAttributes(c *call, w *xmlWriter) error {
	l, err := findListener(c.ctrl.Model(), c.f)
	if err != nil {
		return err
	}
	writeAttributes(w, listenerAttributes(l))
	return nil
}

func modifyListenerAttributes(c *call, w *xmlWriter) error {
	given, err := readAttributes(c.f)
	if err != nil {
		return err
	}
	var msgs []string
	for k, v := range given {
		switch _, known := listenerAttributeDefaults[k]; {
		case !known:
			msgs = append(msgs, "Listener attribute key '"+k+"' is not recognized")
		case k == "routing.http.response.server.enabled" && v != "true" && v != "false":
			msgs = append(msgs, "Listener attribute '"+k+"' must be true or false, got '"+v+"'")
		}
	}
	if len(msgs) > 0 {
		return errorf(codeValidation, "%s", strings.Join(msgs, "; "))
	}
	var out *control.Listener
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		l, err := findListener(tx.Model(), c.f)
		if err != nil {
			return err
		}
		n := l.Clone()
		if n.Attributes == nil {
			n.Attributes = map[string]string{}
		}
		maps.Copy(n.Attributes, given)
		tx.PutListener(n)
		out = n
		return nil
	})
	if err != nil {
		return err
	}
	writeAttributes(w, listenerAttributes(out))
	return nil
}

// setLoadBalancer changes one load balancer with fn, and writes its result.
func setLoadBalancer(c *call, fn func(lb *control.LoadBalancer) error, write func(m *control.Model, lb *control.LoadBalancer)) error {
	var out *control.LoadBalancer
	err := c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		lb, err := findLoadBalancer(tx.Model(), c.f)
		if err != nil {
			return err
		}
		n := lb.Clone()
		if err := fn(n); err != nil {
			return err
		}
		tx.PutLoadBalancer(n)
		out = n
		return nil
	})
	if err != nil {
		return err
	}
	write(c.ctrl.Model(), out)
	return nil
}

func setSubnets(c *call, w *xmlWriter) error {
	subnets := c.f.strings("Subnets")
	for _, m := range c.f.structs("SubnetMappings") {
		subnets = append(subnets, m.get("SubnetId"))
	}
	if len(subnets) != len(uniq(subnets)) {
		return errorf(codeInvalidConfiguration, "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
	}
	return setLoadBalancer(c, func(lb *control.LoadBalancer) error { lb.Subnets = subnets; return nil },
		func(m *control.Model, lb *control.LoadBalancer) {
			writeAvailabilityZones(w, m, lb)
			w.leaf("IpAddressType", lb.IPAddressType)
		})
}

func setSecurityGroups(c *call, w *xmlWriter) error {
	groups := c.f.strings("SecurityGroups")
	return setLoadBalancer(c, func(lb *control.LoadBalancer) error { lb.SecurityGroups = groups; return nil },
		func(_ *control.Model, lb *control.LoadBalancer) { w.stringList("SecurityGroupIds", lb.SecurityGroups) })
}

func setIPAddressType(c *call, w *xmlWriter) error {
	var v validation
	t, ok := v.enum(c.f, "IpAddressType", "ipAddressType", "ipv4", "dualstack", "dualstack-without-public-ipv4")
	if err := v.err(); err != nil {
		return err
	}
	if !ok {
		return errorf(codeValidation, "1 validation error detected: Value null at 'ipAddressType' failed to satisfy constraint: Member must not be null")
	}
	return setLoadBalancer(c, func(lb *control.LoadBalancer) error { lb.IPAddressType = t; return nil },
		func(_ *control.Model, lb *control.LoadBalancer) { w.leaf("IpAddressType", lb.IPAddressType) })
}
