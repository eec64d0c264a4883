package elbv2

import (
	"maps"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
)

// listenerAttributes returns a listener's attributes as
// DescribeListenerAttributes lists them: every key, defaults for those unset.
func listenerAttributes(l *control.Listener) map[string]string {
	out := config.ListenerAttributeDefaults()
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
	merged := map[string]string{}
	var out *control.Listener
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		l, err := findListener(tx.Model(), c.f)
		if err != nil {
			return err
		}
		maps.Copy(merged, l.Attributes)
		maps.Copy(merged, given)
		if _, _, err := config.NormalizeListenerAttributes(merged); err != nil {
			return attributeError("Listener", err)
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
