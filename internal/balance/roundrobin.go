package balance

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// RoundRobin hands out targets in turn: ALB's default algorithm (round_robin).
// With SlowStart set (slow_start.duration_seconds), a target in slow start is
// passed over in its turn with a probability that falls linearly from 1 to 0
// over the window, so its share ramps up linearly; as ALB, slow start applies
// only while at least one candidate is not in slow start. The only shared
// state is one atomic counter, left alone when there is one candidate.
type RoundRobin[T Member] struct {
	// SlowStart is the slow start window; 0 turns slow start off.
	SlowStart time.Duration
	next      atomic.Uint64
}

// Pick returns the next candidate in turn.
func (p *RoundRobin[T]) Pick(ts []T, now time.Time) int {
	n := uint64(len(ts))
	if n == 1 {
		// No turn to take: nothing shared is written (every core serving
		// the group would write the counter's cache line).
		return 0
	}
	if p.SlowStart <= 0 {
		return int((p.next.Add(1) - 1) % n)
	}
	full := -1
	for i, t := range ts {
		if t.Runtime().slowStartWeight(now, p.SlowStart) >= 1 {
			full = i
			break
		}
	}
	if full < 0 {
		// Everyone is in slow start: nobody is held back.
		return int((p.next.Add(1) - 1) % n)
	}
	// A full-weight target accepts its turn at once, so this ends within one
	// round; the bound only guards against a list that changed under us.
	for tries := uint64(0); tries < 2*n; tries++ {
		i := int((p.next.Add(1) - 1) % n)
		w := ts[i].Runtime().slowStartWeight(now, p.SlowStart)
		if w >= 1 || rand.Float64() < w {
			return i
		}
	}
	return full
}
