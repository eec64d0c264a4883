package elbv2

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// readActions reads an action list (DefaultActions, or a rule's Actions) and
// resolves target groups in m. path is the list's lower-camel name for
// messages.
func readActions(m *control.Model, f form, name, path string) ([]control.Action, error) {
	items := f.structs(name)
	if len(items) == 0 {
		return nil, errorf(codeValidation, "An action must be specified")
	}
	if len(items) > 1 {
		return nil, errorf(codeInvalidLoadBalancerAct, "Albatross supports exactly one action per listener or rule for now (a forward); got %d", len(items))
	}
	var out []control.Action
	for i, af := range items {
		ap := fmt.Sprintf("%s.%d.member", path, i+1)
		var v validation
		typ, ok := v.enum(af, "Type", ap+".type", "forward", "authenticate-oidc", "authenticate-cognito", "redirect", "fixed-response", "jwt-validation")
		if !ok && v.err() == nil {
			v.required(ap + ".type")
		}
		order, hasOrder := v.intIn(af, "Order", ap+".order", 1, 50000)
		if err := v.err(); err != nil {
			return nil, err
		}
		if typ != "forward" {
			return nil, errorf(codeInvalidLoadBalancerAct, "Action type '%s' is not supported yet; only forward is", typ)
		}
		a := control.Action{Type: typ}
		if hasOrder {
			a.Order = order
		}
		arn := af.get("TargetGroupArn")
		fwd := af.structs("ForwardConfig.TargetGroups")
		switch {
		case arn == "" && len(fwd) == 0:
			return nil, errorf(codeValidation, "A target group ARN must be specified for a forward action")
		case len(fwd) > 1:
			return nil, errorf(codeInvalidLoadBalancerAct, "Forwarding to %d weighted target groups is not supported yet; forward to one target group", len(fwd))
		case len(fwd) == 1:
			farn := fwd[0].get("TargetGroupArn")
			if arn != "" && farn != arn {
				return nil, errorf(codeValidation, "You cannot specify both a target group ARN and a forward config with a different target group")
			}
			arn = farn
		}
		tg := m.TargetGroupByARN(arn)
		if tg == nil {
			return nil, errorf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
		}
		if tg.Protocol != "HTTP" && tg.Protocol != "HTTPS" {
			return nil, errorf(codeIncompatibleProtocols, "Target group '%s' has protocol %s; an Application Load Balancer forwards to HTTP or HTTPS target groups", arn, tg.Protocol)
		}
		a.TargetGroupID = tg.ID
		out = append(out, a)
	}
	return out, nil
}

// checkAssociation enforces one load balancer per target group, as on AWS.
func checkAssociation(m *control.Model, lbID string, actions []control.Action) error {
	for _, a := range actions {
		if a.TargetGroupID == "" {
			continue
		}
		for _, other := range m.LoadBalancersUsing(a.TargetGroupID) {
			if other.ID != lbID {
				return errorf(codeTargetGroupAssociation, "Target group '%s' is already associated with load balancer '%s'; a target group can be used by one load balancer",
					m.TargetGroupARN(m.TargetGroups[a.TargetGroupID]), m.LoadBalancerARN(other))
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

// writeActions writes actions as AWS echoes them: a forward to one target
// group carries both TargetGroupArn and the equivalent ForwardConfig.
func writeActions(w *xmlWriter, m *control.Model, name string, actions []control.Action) {
	w.list(name, len(actions), func(i int) {
		a := actions[i]
		w.leaf("Type", a.Type)
		if a.Order != 0 {
			w.int("Order", a.Order)
		}
		if tg := m.TargetGroups[a.TargetGroupID]; tg != nil {
			arn := m.TargetGroupARN(tg)
			w.leaf("TargetGroupArn", arn)
			w.open("ForwardConfig")
			w.list("TargetGroups", 1, func(int) {
				w.leaf("TargetGroupArn", arn)
				w.int("Weight", 1)
			})
			w.open("TargetGroupStickinessConfig")
			w.bool("Enabled", false)
			w.close("TargetGroupStickinessConfig")
			w.close("ForwardConfig")
		}
	})
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

// describeRules lists a listener's rules. Until listener rules are in the
// model it is the default rule, which every listener has.
func describeRules(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	lARN, hasL := c.f.lookup("ListenerArn")
	arns := c.f.strings("RuleArns")
	var ls []*control.Listener
	switch {
	case hasL && len(arns) > 0:
		return errorf(codeValidation, "Listener rule ARNs and a listener ARN cannot be specified at the same time")
	case hasL:
		l := m.ListenerByARN(lARN)
		if l == nil {
			return errorf(codeListenerNotFound, "Listener '%s' not found", lARN)
		}
		ls = []*control.Listener{l}
	case len(arns) > 0:
		for _, a := range arns {
			l := m.ListenerByDefaultRuleARN(a)
			if l == nil {
				return errorf(codeRuleNotFound, "One or more rules not found")
			}
			ls = append(ls, l)
		}
	default:
		return errorf(codeValidation, "You must specify either listener rule ARNs or a listener ARN")
	}
	pg, next, err := page(c.f, ls, func(l *control.Listener) int64 { return l.Seq })
	if err != nil {
		return err
	}
	w.list("Rules", len(pg), func(i int) {
		l := pg[i]
		w.leaf("RuleArn", m.DefaultRuleARN(l))
		w.leaf("Priority", "default")
		w.list("Conditions", 0, nil)
		writeActions(w, m, "Actions", l.DefaultActions)
		w.bool("IsDefault", true)
	})
	w.opt("NextMarker", next)
	return nil
}
