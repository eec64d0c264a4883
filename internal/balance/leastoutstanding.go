package balance

import (
	"sync/atomic"
	"time"
)

// LeastOutstanding sends a request to the candidate with the fewest requests
// in flight (least_outstanding_requests). Ties go to the candidates in turn,
// starting the scan one place further on each request, so equal targets share
// requests as in round robin.
type LeastOutstanding[T Member] struct {
	next atomic.Uint64
}

// Pick returns the candidate with the fewest outstanding requests.
func (p *LeastOutstanding[T]) Pick(ts []T, _ time.Time) int {
	n := len(ts)
	if n == 1 {
		return 0 // no tie to break: the turn counter is not written
	}
	start := int((p.next.Add(1) - 1) % uint64(n))
	best, fewest := start, ts[start].InFlight()
	for k := 1; k < n && fewest > 0; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		if o := ts[i].InFlight(); o < fewest {
			best, fewest = i, o
		}
	}
	return best
}
