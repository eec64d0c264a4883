package elbv2

import (
	"reflect"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// checkAssociation enforces one load balancer per target group, as on AWS.
func checkAssociation(m *control.Model, lbID string, actions []config.Action) error {
	for _, a := range actions {
		for _, t := range a.ForwardTargetGroups() {
			tg := m.TargetGroupByName(t.Name)
			if tg == nil {
				continue
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

// readListenerProtocol checks Protocol (and the TLS parameters that go with it).
func readListenerProtocol(f form, required bool) (string, error) {
	p, ok := f.lookup("Protocol")
	switch {
	case !ok && required:
		return "", errorf(codeValidation, "A protocol must be specified")
	case !ok:
		return "", nil
	case p == "HTTPS":
		return "", errorf(codeUnsupportedProtocol, "HTTPS listeners are not supported yet; use HTTP")
	case p != "HTTP":
		return "", errorf(codeUnsupportedProtocol, "Protocol '%s' is not supported by an Application Load Balancer; use HTTP or HTTPS", p)
	}
	if f.present("Certificates") || f.present("SslPolicy") {
		return "", errorf(codeValidation, "Certificates and an SSL policy can be specified only for HTTPS listeners")
	}
	return p, nil
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
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		lb, err := findLoadBalancer(m, c.f)
		if err != nil {
			return err
		}
		actions, err := readActions(m, c.f, "DefaultActions", "defaultActions")
		if err != nil {
			return err
		}
		for _, l := range m.ListenersOf(lb.ID) {
			if l.Port != port {
				continue
			}
			if l.Protocol == protocol && reflect.DeepEqual(l.DefaultActions, actions) {
				out = l // identical: CreateListener is idempotent
				return nil
			}
			return errorf(codeDuplicateListener, "A listener already exists on this port for this load balancer '%s'", m.LoadBalancerARN(lb))
		}
		if len(m.ListenersOf(lb.ID)) >= maxListenersPerLB {
			return errorf(codeTooManyListeners, "A load balancer can have at most %d listeners", maxListenersPerLB)
		}
		if err := checkAssociation(m, lb.ID, actions); err != nil {
			return err
		}
		id, err := tx.NewID(snapshot.ListenerKey(lb.Name, port))
		if err != nil {
			return err
		}
		ruleID, err := tx.NewID("rule/" + id + "/default")
		if err != nil {
			return err
		}
		l := &control.Listener{ID: id, LoadBalancerID: lb.ID, Seq: tx.NextSeq(), Port: port, Protocol: protocol,
			DefaultActions: actions, DefaultRuleID: ruleID, Tags: tags}
		tx.PutListener(l)
		out = l
		return nil
	})
	if err != nil {
		return err
	}
	m := c.ctrl.Model()
	w.list("Listeners", 1, func(int) { writeListener(w, m, out) })
	return nil
}

func writeListener(w *xmlWriter, m *control.Model, l *control.Listener) {
	w.leaf("ListenerArn", m.ListenerARN(l))
	w.leaf("LoadBalancerArn", m.LoadBalancerARN(m.LoadBalancers[l.LoadBalancerID]))
	w.int("Port", l.Port)
	w.leaf("Protocol", l.Protocol)
	writeActions(w, m, "DefaultActions", l.DefaultActions)
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
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
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
			if err := checkAssociation(m, l.LoadBalancerID, actions); err != nil {
				return err
			}
			n.DefaultActions = actions
		}
		if protocol != "" {
			n.Protocol = protocol
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
	})
	if err != nil {
		return err
	}
	m := c.ctrl.Model()
	w.list("Listeners", 1, func(int) { writeListener(w, m, out) })
	return nil
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
