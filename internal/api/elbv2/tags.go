package elbv2

import (
	"slices"

	"github.com/albatross-lb/albatross/internal/control"
)

// taggable finds the resource an ARN names, for the tag calls: it returns the
// resource's tags and a function that stores new ones in tx.
func taggable(tx *control.Tx, m *control.Model, arn string) ([]control.Tag, func([]control.Tag), error) {
	kind, _, _ := control.ParseARN(arn)
	switch kind {
	case control.KindLoadBalancer:
		if lb := m.LoadBalancerByARN(arn); lb != nil {
			return lb.Tags, func(t []control.Tag) { n := lb.Clone(); n.Tags = t; tx.PutLoadBalancer(n) }, nil
		}
		return nil, nil, errorf(codeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
	case control.KindTargetGroup:
		if tg := m.TargetGroupByARN(arn); tg != nil {
			return tg.Tags, func(t []control.Tag) { n := tg.Clone(); n.Tags = t; tx.PutTargetGroup(n) }, nil
		}
		return nil, nil, errorf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
	case control.KindListener:
		if l := m.ListenerByARN(arn); l != nil {
			return l.Tags, func(t []control.Tag) { n := l.Clone(); n.Tags = t; tx.PutListener(n) }, nil
		}
		return nil, nil, errorf(codeListenerNotFound, "Listener '%s' not found", arn)
	case control.KindTrustStore:
		if ts := m.TrustStoreByARN(arn); ts != nil {
			return ts.Tags, func(t []control.Tag) { n := ts.Clone(); n.Tags = t; tx.PutTrustStore(n) }, nil
		}
		return nil, nil, errorf(codeTrustStoreNotFound, "Trust store '%s' not found", arn)
	case control.KindRule:
		l, r := m.RuleByARN(arn)
		switch {
		case l == nil:
			return nil, nil, errorf(codeRuleNotFound, "Rule '%s' not found", arn)
		case r == nil:
			return nil, nil, errorf(codeValidation, "Rule '%s' is a default rule; tag its listener instead", arn)
		}
		id := r.ID
		return r.Tags, func(t []control.Tag) {
			n := l.Clone()
			i := slices.IndexFunc(n.Rules, func(x control.Rule) bool { return x.ID == id })
			n.Rules[i].Tags = t
			tx.PutListener(n)
		}, nil
	}
	return nil, nil, errorf(codeValidation, "'%s' is not the ARN of a load balancer, target group, listener, rule or trust store", arn)
}

func resourceARNs(f form) ([]string, error) {
	arns := f.strings("ResourceArns")
	if len(arns) == 0 {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'resourceArns' failed to satisfy constraint: Member must not be null")
	}
	if len(arns) > maxDescribeARNs {
		return nil, errorf(codeValidation, "1 validation error detected: Value '%d' at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to %d", len(arns), maxDescribeARNs)
	}
	return arns, nil
}

func addTags(c *call, w *xmlWriter) error {
	arns, err := resourceARNs(c.f)
	if err != nil {
		return err
	}
	tags, err := readTags(c.f, "Tags")
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return errorf(codeValidation, "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		for _, arn := range arns {
			old, put, err := taggable(tx, tx.Model(), arn)
			if err != nil {
				return err
			}
			merged, err := mergeTags(old, tags)
			if err != nil {
				return err
			}
			put(merged)
		}
		return nil
	})
}

func removeTags(c *call, w *xmlWriter) error {
	arns, err := resourceARNs(c.f)
	if err != nil {
		return err
	}
	keys := c.f.strings("TagKeys")
	if len(keys) == 0 {
		return errorf(codeValidation, "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		for _, arn := range arns {
			old, put, err := taggable(tx, tx.Model(), arn)
			if err != nil {
				return err
			}
			kept := slices.DeleteFunc(slices.Clone(old), func(t control.Tag) bool { return slices.Contains(keys, t.Key) })
			if len(kept) != len(old) {
				put(kept)
			}
		}
		return nil
	})
}

func describeTags(c *call, w *xmlWriter) error {
	arns, err := resourceARNs(c.f)
	if err != nil {
		return err
	}
	m := c.ctrl.Model()
	all := make([][]control.Tag, len(arns))
	for i, arn := range arns {
		tags, _, err := taggable(nil, m, arn)
		if err != nil {
			return err
		}
		all[i] = tags
	}
	w.list("TagDescriptions", len(arns), func(i int) {
		w.leaf("ResourceArn", arns[i])
		writeTags(w, "Tags", all[i])
	})
	return nil
}
