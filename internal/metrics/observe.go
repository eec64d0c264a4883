package metrics

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// maxCode bounds the status codes counted one by one; the access log writes
// codes of three digits.
const maxCode = 1000

// Desync classifications, in the order of lbCounters.desync.
var classifications = [...]string{"Acceptable", "Ambiguous", "Severe"}

// shards is how many copies there are of each counter that every request
// writes. A request adds to one copy, chosen by its client connection (see
// sharded.at), so that requests served on different cores at once mostly write
// different cache lines instead of passing one line back and forth; readers add
// the copies up.
const shards = 8

// sharded is shards copies of T, none sharing a cache line with another.
type sharded[T any] [shards]struct {
	v T
	_ [64]byte
}

// at is the copy for the request of entry e. Go gives a goroutine no core
// number; the client's port spreads concurrent connections over the copies,
// and keeps every request of one connection on one copy.
func (s *sharded[T]) at(e *accesslog.Entry) *T {
	return &s[e.Client.Port()%shards].v
}

// total adds up f of every copy.
func total[T any](s *sharded[T], f func(*T) uint64) uint64 {
	var n uint64
	for i := range s {
		n += f(&s[i].v)
	}
	return n
}

// lbCounters are a load balancer's own counters.
type lbCounters struct {
	hot            sharded[lbHot]
	ipv6Requests   atomic.Uint64
	ipv6Bytes      atomic.Uint64
	fixedResponses atomic.Uint64
	redirects      atomic.Uint64
	desync         [len(classifications)]atomic.Uint64
	// elb counts ELB-generated responses by status code.
	elb [maxCode]atomic.Uint64

	activeConns   atomic.Int64
	newConns      atomic.Uint64
	rejectedConns atomic.Uint64

	recent recentErrors
}

// lbHot are the load balancer counters every request adds to.
type lbHot struct {
	requests, processedBytes atomic.Uint64
}

func newLBCounters() *lbCounters { return new(lbCounters) }

// requests is the number of requests observed.
func (c *lbCounters) requests() uint64 {
	return total(&c.hot, func(h *lbHot) uint64 { return h.requests.Load() })
}

// processedBytes is the bytes received and sent of the requests observed.
func (c *lbCounters) processedBytes() uint64 {
	return total(&c.hot, func(h *lbHot) uint64 { return h.processedBytes.Load() })
}

// groupCounters are a target group's counters.
type groupCounters struct {
	responseTime sharded[histogram]
}

// targetCounters are a target's counters within one target group.
type targetCounters struct {
	hot        sharded[targetHot]
	connErrors atomic.Uint64
}

// targetHot are the target counters every request to it adds to.
type targetHot struct {
	requests atomic.Uint64
	// classes counts target status codes by class: classes[2] is 2XX.
	classes [6]atomic.Uint64
}

// requests is the number of requests the target was chosen for.
func (c *targetCounters) requests() uint64 {
	return total(&c.hot, func(h *targetHot) uint64 { return h.requests.Load() })
}

// class is the number of responses of status class (2 for 2XX) the target sent.
func (c *targetCounters) class(class int) uint64 {
	return total(&c.hot, func(h *targetHot) uint64 { return h.classes[class].Load() })
}

// targetClasses is the number of status classes counted, 0 to 5.
const targetClasses = len(targetHot{}.classes)

// ResponseTimeBuckets are the upper bounds of the TargetResponseTime histogram.
// Observations are truncated to the millisecond, as the access log writes
// target_processing_time, so a request falls in the same bucket whether it is
// counted from the entry or from its log line.
var ResponseTimeBuckets = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second,
	120 * time.Second, 300 * time.Second,
}

// histogram counts durations into ResponseTimeBuckets (the last count is above
// every bound) and sums them in nanoseconds.
type histogram struct {
	counts [len(ResponseTimeBuckets) + 1]atomic.Uint64
	sum    atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(ResponseTimeBuckets) && d > ResponseTimeBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Observe counts one finished request from its access log entry. It is called
// once per entry, after the entry is complete; it neither allocates nor retains
// e. The rules, each the CloudWatch metric's definition applied to the entry:
//
//   - every entry counts in Requests, its received_bytes + sent_bytes in
//     ProcessedBytes, and, from an IPv6 client, in IPv6RequestCount and
//     IPv6ProcessedBytes;
//   - an entry without target_status_code is a response the load balancer
//     generated itself (including 460, where it sent nothing): it counts in
//     HTTPCode_ELB by its elb_status_code;
//   - an entry with a target counts in that target's RequestCount (a target was
//     chosen), its target_status_code in HTTPCode_Target by class, and its
//     target_processing_time, when measured, in TargetResponseTime;
//   - an entry whose target was chosen but that records no attempt on it and
//     ends in an ELB 502 or 504 is a connection to the target that could not be
//     established: TargetConnectionErrorCount;
//   - classification counts in the desync counts, and fixed-response and
//     redirect in actions_executed in HTTP_Fixed_Response_Count and
//     HTTP_Redirect_Count.
func (lb *LoadBalancer) Observe(e *accesslog.Entry) {
	if lb == nil {
		return
	}
	c := lb.c
	hot := c.hot.at(e)
	hot.requests.Add(1)
	bytes := uint64(max(e.ReceivedBytes, 0) + max(e.SentBytes, 0))
	hot.processedBytes.Add(bytes)
	if e.Client.Addr().Is6() {
		c.ipv6Requests.Add(1)
		c.ipv6Bytes.Add(bytes)
	}
	elbGenerated := e.TargetStatusCode == 0 && e.ELBStatusCode > 0 && e.ELBStatusCode < maxCode
	if elbGenerated {
		c.elb[e.ELBStatusCode].Add(1)
		if isRecentError(e.ELBStatusCode) {
			c.recent.add(e)
		}
	}
	if e.Classification != "" && e.Classification != "-" {
		for i, name := range classifications {
			if e.Classification == name {
				c.desync[i].Add(1)
			}
		}
	}
	if a := e.ActionsExecuted; a != "" && a != "forward" {
		if strings.Contains(a, "fixed-response") {
			c.fixedResponses.Add(1)
		}
		if strings.Contains(a, "redirect") {
			c.redirects.Add(1)
		}
	}
	if !e.Target.IsValid() {
		return
	}
	g := lb.group(e.TargetGroupARN)
	if g == nil {
		return
	}
	if d := e.TargetProcessingTime; d >= 0 {
		g.c.responseTime.at(e).observe(d.Truncate(time.Millisecond))
	}
	t := g.target(e.Target)
	if t == nil {
		return
	}
	th := t.c.hot.at(e)
	th.requests.Add(1)
	if s := e.TargetStatusCode; s >= 100 && s < 600 {
		th.classes[s/100].Add(1)
	}
	if elbGenerated && len(e.Attempts) == 0 && (e.ELBStatusCode == 502 || e.ELBStatusCode == 504) {
		t.c.connErrors.Add(1)
	}
}

// ConnOpened counts a client connection accepted by the load balancer
// (NewConnectionCount, and one more in ActiveConnectionCount).
func (lb *LoadBalancer) ConnOpened() {
	if lb != nil {
		lb.c.newConns.Add(1)
		lb.c.activeConns.Add(1)
	}
}

// ConnClosed counts a client connection closed (one less in
// ActiveConnectionCount). Call it on the binding ConnOpened was called on.
func (lb *LoadBalancer) ConnClosed() {
	if lb != nil {
		lb.c.activeConns.Add(-1)
	}
}

// ConnRejected counts a client connection the load balancer closed without
// serving it (RejectedConnectionCount).
func (lb *LoadBalancer) ConnRejected() {
	if lb != nil {
		lb.c.rejectedConns.Add(1)
	}
}
