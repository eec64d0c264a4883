package balance

import (
	"math/rand/v2"
	"time"
)

// WeightedRandom picks a candidate at random (weighted_random). Every target
// has the same weight: ALB lowers the weight of anomalous targets only with
// load_balancing.algorithm.anomaly_mitigation on, which Albatross accepts but
// does not implement (docs/compatibility.md).
type WeightedRandom[T Member] struct{}

// Pick returns a uniformly random candidate.
func (WeightedRandom[T]) Pick(ts []T, _ time.Time) int {
	return rand.IntN(len(ts))
}
