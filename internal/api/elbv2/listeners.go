package elbv2

import (
	"errors"
	"reflect"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// checkAssociation enforces one load balancer per target group, as on AWS,
// and that HTTP2 and GRPC target groups sit behind HTTPS listeners only.
func checkAssociation(m *control.Model, lbID, protocol string, actions []config.Action) error {
	for _, a := range actions {
		if config.IsAuthenticate(a.Type) && protocol != "HTTPS" {
			return errorf(codeInvalidLoadBalancerAct, "An authentication action (%s) needs an HTTPS listener; this listener's protocol is %s", a.Type, protocol)
		}
		for _, t := range a.ForwardTargetGroups() {
			tg := m.TargetGroupByName(t.Name)
			if tg == nil {
				continue
			}
			if protocol != "HTTPS" && tg.ProtocolVersion != control.ProtocolVersionHTTP1 && tg.ProtocolVersion != "" {
				return errorf(codeIncompatibleProtocols, "Target group '%s' has protocol version %s, which needs an HTTPS listener; this listener's protocol is %s",
					m.TargetGroupARN(tg), tg.ProtocolVersion, protocol)
			}
			for _, other := range m.LoadBalancersUsing(tg.ID) {
				if other.ID != lbID {
					return errorf(codeTargetGroupAssociation, "Target group '%s' is already associated with load balancer '%s'; a target group can be used by one load balancer",
						m.TargetGroupARN(tg), m.LoadBalancerARN(other))
				}
			}
		}
	}
	return nil
}

// readListenerProtocol checks Protocol.
func readListenerProtocol(f form, required bool) (string, error) {
	p, ok := f.lookup("Protocol")
	switch {
	case !ok && required:
		return "", errorf(codeValidation, "A protocol must be specified")
	case !ok:
		return "", nil
	case p != "HTTP" && p != "HTTPS":
		return "", errorf(codeUnsupportedProtocol, "Protocol '%s' is not supported by an Application Load Balancer; use HTTP or HTTPS", p)
	}
	return p, nil
}

// listenerTLS is the TLS part of a CreateListener or ModifyListener request.
type listenerTLS struct {
	// cert is the default certificate's ARN ("" when not given).
	cert string
	// policy is the SslPolicy given ("" when not given).
	policy string
}

// readListenerTLS reads and checks Certificates and SslPolicy: at most one
// certificate (the default; others are added with AddListenerCertificates),
// whose PEM files must be readable, and a security policy Albatross serves.
func readListenerTLS(m *control.Model, f form) (listenerTLS, error) {
	var out listenerTLS
	certs := f.structs("Certificates")
	if len(certs) > 1 {
		return out, errorf(codeValidation, "A listener takes exactly one default certificate (got %d); add more certificates with AddListenerCertificates", len(certs))
	}
	if len(certs) == 1 {
		arn := certs[0].get("CertificateArn")
		if arn == "" {
			return out, errorf(codeValidation, "1 validation error detected: Value null at 'certificates.1.member.certificateArn' failed to satisfy constraint: Member must not be null")
		}
		if err := checkCertificate(m, arn); err != nil {
			return out, err
		}
		out.cert = arn
	}
	if p, ok := f.lookup("SslPolicy"); ok {
		if err := checkSSLPolicy(p); err != nil {
			return out, err
		}
		out.policy = p
	}
	return out, nil
}

// checkCertificate checks that a certificate ARN names a readable PEM pair in
// the node's certificate directory.
func checkCertificate(m *control.Model, arn string) error {
	_, err := m.LoadCertificate(arn)
	var cerr *control.CertificateARNError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &cerr) && cerr.Malformed:
		return errorf(codeValidation, "Certificate ARN '%s' is not valid: %v", arn, cerr.Err)
	case errors.As(err, &cerr):
		return errorf(codeCertificateNotFound, "Certificate '%s' not found: %v", arn, cerr.Err)
	}
	return err
}

// checkSSLPolicy maps tlsconf's verdict on a policy name to AWS's errors.
func checkSSLPolicy(name string) error {
	_, err := tlsconf.Lookup(name)
	var nf *tlsconf.PolicyNotFoundError
	var un *tlsconf.UnsupportedPolicyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		return errorf(codeSSLPolicyNotFound, "SSL policy '%s' not found", name)
	case errors.As(err, &un):
		return errorf(codeInvalidConfiguration, "SSL policy '%s' cannot be served by Albatross: %s", name, un.Reason)
	}
	return err
}

// applyListenerTLS sets the protocol, default certificate and policy of n
// (a listener being created or modified) from the request, as ModifyListener
// documents: given values replace, omitted ones are kept, and switching to
// HTTP drops the certificates and the policy.
func applyListenerTLS(n *control.Listener, protocol string, t listenerTLS) error {
	if protocol != "" {
		n.Protocol = protocol
	}
	if n.Protocol != "HTTPS" {
		if t.cert != "" || t.policy != "" {
			return errorf(codeValidation, "Certificates and an SSL policy can be specified only for HTTPS listeners")
		}
		n.Certificates, n.SSLPolicy = nil, ""
		return nil
	}
	if t.cert != "" {
		rest := []config.Certificate{{ARN: t.cert}}
		for i, c := range n.Certificates {
			if i > 0 && c.ARN != t.cert {
				rest = append(rest, c)
			}
		}
		n.Certificates = rest
	}
	if len(n.Certificates) == 0 {
		return errorf(codeValidation, "A certificate must be specified for HTTPS listeners")
	}
	if t.policy != "" {
		n.SSLPolicy = t.policy
	}
	if n.SSLPolicy == "" {
		n.SSLPolicy = defaultSSLPolicy
	}
	return nil
}

// defaultSSLPolicy is the policy of an HTTPS listener created through the API
// without one: AWS's API and CLI default (the configuration file's default is
// a TLS 1.3 policy, as AWS's console picks).
const defaultSSLPolicy = "ELBSecurityPolicy-2016-08"

// checkListenerForwards runs checkAssociation over every action of a listener.
func checkListenerForwards(m *control.Model, l *control.Listener) error {
	if err := checkAssociation(m, l.LoadBalancerID, l.Protocol, l.DefaultActions); err != nil {
		return err
	}
	for _, r := range l.Rules {
		if err := checkAssociation(m, l.LoadBalancerID, l.Protocol, r.Actions); err != nil {
			return err
		}
	}
	return nil
}

func createListener(c *call, w *xmlWriter) error {
	var v validation
	port, hasPort := v.intIn(c.f, "Port", "port", 1, 65535)
	if err := v.err(); err != nil {
		return err
	}
	if !hasPort {
		return errorf(codeValidation, "A port must be specified")
	}
	protocol, err := readListenerProtocol(c.f, true)
	if err != nil {
		return err
	}
	tags, err := readTags(c.f, "Tags")
	if err != nil {
		return err
	}
	var out *control.Listener
	return updateThenWrite(c, w, "Listeners", func(tx *control.Tx) error {
		m := tx.Model()
		lb, err := findLoadBalancer(m, c.f)
		if err != nil {
			return err
		}
		actions, err := readActions(m, c.f, "DefaultActions", "defaultActions")
		if err != nil {
			return err
		}
		t, err := readListenerTLS(m, c.f)
		if err != nil {
			return err
		}
		l := &control.Listener{LoadBalancerID: lb.ID, Port: port, DefaultActions: actions, Tags: tags}
		if err := applyListenerTLS(l, protocol, t); err != nil {
			return err
		}
		if l.MutualAuthentication, _, err = readMutualAuthentication(m, c.f, l.Protocol); err != nil {
			return err
		}
		for _, o := range m.ListenersOf(lb.ID) {
			if o.Port != port {
				continue
			}
			if o.Protocol == l.Protocol && reflect.DeepEqual(o.DefaultActions, actions) && o.SSLPolicy == l.SSLPolicy &&
				reflect.DeepEqual(o.MutualAuthentication, l.MutualAuthentication) &&
				(l.Protocol != "HTTPS" || o.Certificates[0].ARN == l.Certificates[0].ARN) {
				out = o // identical: CreateListener is idempotent
				return nil
			}
			return errorf(codeDuplicateListener, "A listener already exists on this port for this load balancer '%s'", m.LoadBalancerARN(lb))
		}
		if len(m.ListenersOf(lb.ID)) >= maxListenersPerLB {
			return errorf(codeTooManyListeners, "A load balancer can have at most %d listeners", maxListenersPerLB)
		}
		if err := checkAssociation(m, lb.ID, l.Protocol, actions); err != nil {
			return err
		}
		if l.ID, err = tx.NewID(snapshot.ListenerKey(lb.Name, port)); err != nil {
			return err
		}
		if l.DefaultRuleID, err = tx.NewID("rule/" + l.ID + "/default"); err != nil {
			return err
		}
		l.Seq = tx.NextSeq()
		tx.PutListener(l)
		out = l
		return nil
	}, func(m *control.Model) { writeListener(w, m, out) })
}

func writeListener(w *xmlWriter, m *control.Model, l *control.Listener) {
	w.leaf("ListenerArn", m.ListenerARN(l))
	w.leaf("LoadBalancerArn", m.LoadBalancerARN(m.LoadBalancers[l.LoadBalancerID]))
	w.int("Port", l.Port)
	w.leaf("Protocol", l.Protocol)
	if l.Protocol == "HTTPS" {
		// As on AWS, a listener lists its default certificate only; the
		// others are in DescribeListenerCertificates.
		w.list("Certificates", min(len(l.Certificates), 1), func(int) {
			w.leaf("CertificateArn", m.CertificateARN(l.Certificates[0]))
		})
		w.leaf("SslPolicy", l.SSLPolicy)
	}
	writeActions(w, m, "DefaultActions", l.DefaultActions)
	if l.Protocol == "HTTPS" {
		writeMutualAuthentication(w, m, l.MutualAuthentication)
	}
}

func describeListeners(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	lbARN, hasLB := c.f.lookup("LoadBalancerArn")
	arns := c.f.strings("ListenerArns")
	var ls []*control.Listener
	switch {
	case hasLB && len(arns) > 0:
		return errorf(codeValidation, "Listener ARNs and a load balancer ARN cannot be specified at the same time")
	case hasLB:
		lb := m.LoadBalancerByARN(lbARN)
		if lb == nil {
			return errorf(codeLoadBalancerNotFound, "Load balancer '%s' not found", lbARN)
		}
		ls = m.ListenersOf(lb.ID)
	case len(arns) > 0:
		var missing []string
		for _, a := range arns {
			if l := m.ListenerByARN(a); l != nil {
				ls = append(ls, l)
			} else {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			return errorf(codeListenerNotFound, "One or more listeners not found: '%s'", strings.Join(missing, "', '"))
		}
	default:
		return errorf(codeValidation, "You must specify either listener ARNs or a load balancer ARN")
	}
	pg, next, err := page(c.f, ls, func(l *control.Listener) int64 { return l.Seq })
	if err != nil {
		return err
	}
	w.list("Listeners", len(pg), func(i int) { writeListener(w, m, pg[i]) })
	w.opt("NextMarker", next)
	return nil
}

// findListener returns the listener of the request's ListenerArn.
func findListener(m *control.Model, f form) (*control.Listener, error) {
	arn, ok := f.lookup("ListenerArn")
	if !ok || arn == "" {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'listenerArn' failed to satisfy constraint: Member must not be null")
	}
	l := m.ListenerByARN(arn)
	if l == nil {
		return nil, errorf(codeListenerNotFound, "Listener '%s' not found", arn)
	}
	return l, nil
}

func modifyListener(c *call, w *xmlWriter) error {
	var v validation
	port, hasPort := v.intIn(c.f, "Port", "port", 1, 65535)
	if err := v.err(); err != nil {
		return err
	}
	protocol, err := readListenerProtocol(c.f, false)
	if err != nil {
		return err
	}
	var out *control.Listener
	return updateThenWrite(c, w, "Listeners", func(tx *control.Tx) error {
		m := tx.Model()
		l, err := findListener(m, c.f)
		if err != nil {
			return err
		}
		n := l.Clone()
		if c.f.present("DefaultActions") {
			actions, err := readActions(m, c.f, "DefaultActions", "defaultActions")
			if err != nil {
				return err
			}
			n.DefaultActions = actions
		}
		t, err := readListenerTLS(m, c.f)
		if err != nil {
			return err
		}
		if err := applyListenerTLS(n, protocol, t); err != nil {
			return err
		}
		ma, given, err := readMutualAuthentication(m, c.f, n.Protocol)
		switch {
		case err != nil:
			return err
		case given:
			n.MutualAuthentication = ma
		case n.Protocol != "HTTPS":
			n.MutualAuthentication = nil // switching to HTTP turns mutual TLS off
		}
		if err := checkListenerForwards(m, n); err != nil {
			return err
		}
		if hasPort && port != l.Port {
			for _, o := range m.ListenersOf(l.LoadBalancerID) {
				if o.Port == port {
					return errorf(codeDuplicateListener, "Listener port '%d' is already in use", port)
				}
			}
			n.Port = port
		}
		tx.PutListener(n)
		out = n
		return nil
	}, func(m *control.Model) { writeListener(w, m, out) })
}

func deleteListener(c *call, w *xmlWriter) error {
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		l, err := findListener(tx.Model(), c.f)
		if err != nil {
			return err
		}
		tx.DeleteListener(l.ID)
		return nil
	})
}
