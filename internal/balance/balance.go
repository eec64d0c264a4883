// Package balance chooses which target of a target group receives a request.
// Each policy is one type behind the Policy interface; a policy only sees how many
// targets are eligible and returns an index, so it never copies or locks the
// target list, which lives in the immutable config snapshot.
package balance

import "sync/atomic"

// Policy picks one of n eligible targets (n > 0) and returns its index.
type Policy interface {
	Pick(n int) int
}

// RoundRobin hands out targets in turn. It is ALB's default algorithm
// (load_balancing.algorithm.type = round_robin). Safe for concurrent use; the only
// shared state is one atomic counter.
type RoundRobin struct {
	next atomic.Uint64
}

// Pick returns the next index in turn.
func (r *RoundRobin) Pick(n int) int {
	return int((r.next.Add(1) - 1) % uint64(n))
}
