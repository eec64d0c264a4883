// Package balance chooses which target of a target group receives a request, as
// ALB's load_balancing.algorithm.type says: round_robin (with slow start),
// least_outstanding_requests or weighted_random. Each algorithm is one type in
// one file behind the Policy interface; stickiness cookies are in sticky.go and
// the weighted choice between the target groups of a forward action in
// groups.go.
//
// A policy chooses among a slice of candidate targets that the caller provides
// (the group's routable targets), so the policy never copies or locks the
// target list, which lives in the immutable configuration snapshot. What a
// policy needs to know about a target beyond its position is read from the
// Member with atomics only: the requests in flight on it (kept, with the
// target's registration, by its health status, which drains the target with
// the same count) and when it entered slow start (its Runtime, which outlives
// snapshots).
package balance

import (
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// Member is a candidate target as a policy sees it.
type Member interface {
	// Runtime returns the target's runtime state (never nil).
	Runtime() *Runtime
	// InFlight is the number of requests in flight on the target.
	InFlight() int64
}

// Policy picks one of the candidates ts (len(ts) > 0) for a request arriving
// at now and returns its index. Implementations are safe for concurrent use.
type Policy[T Member] interface {
	Pick(ts []T, now time.Time) int
}

// New returns the policy a target group's attributes ask for.
func New[T Member](attrs config.TargetGroupAttributes) Policy[T] {
	switch attrs.Algorithm {
	case config.AlgorithmLeastOutstandingRequests:
		return &LeastOutstanding[T]{}
	case config.AlgorithmWeightedRandom:
		return &WeightedRandom[T]{Mitigate: attrs.AnomalyMitigation}
	}
	return &RoundRobin[T]{SlowStart: attrs.SlowStart}
}

// Runtime is the state of one target in one target group that outlives
// configuration snapshots: kept in a Registry, it survives reloads for as long
// as the target stays registered.
type Runtime struct {
	// slowStartFrom is when the target entered slow start, in Unix
	// nanoseconds; 0 when it is not in slow start.
	slowStartFrom atomic.Int64
}

// EnterSlowStart marks the target as newly routable at t: with slow start on,
// its share of requests ramps up linearly from t over the slow start window.
//
// The Registry calls it when a target first appears in a group that already
// existed, and the health checker (health.Status, through SetSlowStarter)
// on every transition to healthy, and LeaveSlowStart on every transition
// away from it (ALB: a target leaving healthy leaves slow start, and enters
// it again when healthy again).
func (r *Runtime) EnterSlowStart(t time.Time) { r.slowStartFrom.Store(t.UnixNano()) }

// LeaveSlowStart takes the target out of slow start.
func (r *Runtime) LeaveSlowStart() { r.slowStartFrom.Store(0) }

// slowStartWeight is the target's share relative to a target at full weight:
// the fraction of window elapsed since it entered slow start, 1 when it is not
// in slow start or has finished it.
func (r *Runtime) slowStartWeight(now time.Time, window time.Duration) float64 {
	from := r.slowStartFrom.Load()
	if from == 0 || window <= 0 {
		return 1
	}
	elapsed := now.UnixNano() - from
	if elapsed >= int64(window) {
		return 1
	}
	if elapsed <= 0 {
		return 0
	}
	return float64(elapsed) / float64(window)
}
