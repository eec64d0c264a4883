package snapshot

import "github.com/albatross-lb/albatross/internal/health"

// candidates is a target group's routing decision for one version of its
// targets' health.
type candidates struct {
	version  uint64
	targets  []*Target
	failOpen bool
}

// Candidates returns the targets a new request to the group may go to, as ALB
// chooses them (alb-data-plane.md §5.4): the healthy targets; or, when fewer
// are healthy than the group's unhealthy_state_routing thresholds ask (by
// default: none is healthy), every registered target ("fail open", failOpen
// true); or none when no target is registered (the caller answers 503).
// Draining targets are never candidates. Initial targets count as not healthy,
// so a new group routes to all its targets until the first checks pass.
//
// The result is computed once per change of the targets' states and cached, so
// the request path neither allocates nor locks; it must not be modified.
func (tg *TargetGroup) Candidates() (targets []*Target, failOpen bool) {
	v := tg.Health.Version()
	if c := tg.candidates.Load(); c != nil && c.version == v {
		return c.targets, c.failOpen
	}
	// The version is read before the states: a change during the computation
	// moves it on, and the next call computes again.
	c := tg.computeCandidates(v)
	tg.candidates.Store(c)
	return c.targets, c.failOpen
}

func (tg *TargetGroup) computeCandidates(version uint64) *candidates {
	var healthy, registered []*Target
	for _, t := range tg.Targets {
		switch t.Health.State() {
		case health.StateHealthy:
			healthy = append(healthy, t)
			registered = append(registered, t)
		case health.StateDraining, health.StateUnused:
		default:
			registered = append(registered, t)
		}
	}
	c := &candidates{version: version, targets: healthy}
	minCount := max(tg.Attrs.UnhealthyStateRoutingMinHealthyCount, 1)
	pct := tg.Attrs.UnhealthyStateRoutingMinHealthyPercentage
	if len(healthy) < minCount || (pct > 0 && len(healthy)*100 < pct*len(registered)) {
		c.targets, c.failOpen = registered, len(registered) > 0
	}
	return c
}
