package node

import (
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// Health returns the node's target health registry: the state of every
// registered target, for the admin server and the API.
func (n *Node) Health() *health.Registry { return n.health }

// healthSpecs describes the target groups of snap to the health registry.
func healthSpecs(snap *snapshot.Snapshot) []health.GroupSpec {
	specs := make([]health.GroupSpec, 0, len(snap.TargetGroups))
	for _, tg := range snap.TargetGroups {
		sp := health.GroupSpec{
			Name:                tg.Name,
			LoadBalancer:        tg.LoadBalancer,
			InUse:               tg.InUse,
			HealthCheck:         tg.HealthCheck,
			ProtocolVersion:     tg.ProtocolVersion,
			DeregistrationDelay: tg.Attrs.DeregistrationDelay,
			DrainUntil:          tg.DrainUntil,
			Targets:             make([]*health.Status, len(tg.Targets)),
		}
		for i, t := range tg.Targets {
			sp.Targets[i] = t.Health
		}
		specs = append(specs, sp)
	}
	return specs
}
