package snapshot

import (
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/state"
)

// bindMetrics gives every load balancer of s its counters from reg, resolved now
// so that the request path never looks a counter up by label. The target groups
// of a load balancer are those its listeners' rules forward to.
func bindMetrics(s *Snapshot, reg *metrics.Registry) {
	if reg == nil {
		return
	}
	for _, lb := range s.LoadBalancers {
		var groups []metrics.GroupSpec
		for _, tg := range lb.TargetGroups() {
			gs := metrics.GroupSpec{ID: state.TargetGroupResourceID(tg.Name, tg.ID), ARN: tg.ARN, HealthChecked: tg.Health != nil}
			for _, t := range tg.Targets {
				ts := metrics.TargetSpec{Addr: t.Addr}
				if t.Pool != nil {
					ts.Pool = t.Pool
				}
				if h := t.Health; h != nil {
					ts.Health = func() string { return h.State().String() }
					if tg.Attrs.Algorithm == config.AlgorithmWeightedRandom {
						ts.Anomaly = h.Anomaly
					}
				}
				gs.Targets = append(gs.Targets, ts)
			}
			groups = append(groups, gs)
		}
		lb.Metrics = reg.Bind(lb.ResourceID, groups)
		lb.Metrics.TLSErrors = lb.TLSNegotiationErrors
	}
}

// TargetGroups returns the target groups the load balancer's listeners' rules
// forward to, each once, in listener and rule order.
func (lb *LoadBalancer) TargetGroups() []*TargetGroup {
	var out []*TargetGroup
	seen := make(map[*TargetGroup]bool)
	for _, l := range lb.Listeners {
		for _, tg := range l.targetGroups() {
			if !seen[tg] {
				seen[tg] = true
				out = append(out, tg)
			}
		}
	}
	return out
}

// MetricsBindings returns the metrics bindings of the snapshot's load balancers,
// for metrics.Registry.Publish.
func (s *Snapshot) MetricsBindings() []*metrics.LoadBalancer {
	var out []*metrics.LoadBalancer
	for _, lb := range s.LoadBalancers {
		if lb.Metrics != nil {
			out = append(out, lb.Metrics)
		}
	}
	return out
}
