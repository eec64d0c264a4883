package metrics

import (
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// recentSize is how many recent ELB errors a load balancer remembers.
const recentSize = 64

// maxRecentRequest is how many bytes of the request field a remembered error keeps.
const maxRecentRequest = 512

// isRecentError reports whether an ELB-generated status is one the dashboard
// lists among the latest errors: the client leaving (460) and every 5XX the load
// balancer generated (502 target connection failures, 503 no target, 504 target
// timeouts, ...).
func isRecentError(code int) bool {
	return code == 460 || (code >= 500 && code < 600)
}

// recentErrors is a ring of the latest ELB errors of one load balancer. Its lock
// is taken only by requests that end in such an error, and each slot owns its
// bytes, so recording one never allocates.
type recentErrors struct {
	mu    sync.Mutex
	next  int
	n     int
	slots [recentSize]errorSlot
}

type errorSlot struct {
	time           time.Time
	code           int
	target         netip.AddrPort
	targetGroupARN string
	errorReason    string
	classification string
	request        [maxRecentRequest]byte
	requestLen     int
}

// add remembers e. Strings are kept as they are (they are immutable); the
// request bytes, which alias the proxy's buffers, are copied.
func (r *recentErrors) add(e *accesslog.Entry) {
	r.mu.Lock()
	s := &r.slots[r.next]
	s.time = e.Time
	s.code = e.ELBStatusCode
	s.target = e.Target
	s.targetGroupARN = e.TargetGroupARN
	s.errorReason = e.ErrorReason
	s.classification = e.Classification
	s.requestLen = copy(s.request[:], e.Request)
	r.next = (r.next + 1) % recentSize
	r.n = min(r.n+1, recentSize)
	r.mu.Unlock()
}

// RecentError is one ELB error a load balancer generated recently.
type RecentError struct {
	Time         time.Time      `json:"time"`
	LoadBalancer string         `json:"load_balancer"`
	Code         int            `json:"code"`
	Target       netip.AddrPort `json:"-"`
	// TargetText is Target as text, "-" when no target was chosen.
	TargetText     string `json:"target"`
	TargetGroupARN string `json:"target_group_arn"`
	// Request is the access log's request field, "METHOD URL PROTOCOL".
	Request        string `json:"request"`
	ErrorReason    string `json:"error_reason"`
	Classification string `json:"classification"`
}

// RecentErrors returns up to n of the latest ELB errors (460 and 5XX) of the
// load balancers in force, newest first.
func (r *Registry) RecentErrors(n int) []RecentError {
	var out []RecentError
	for _, lb := range r.Current() {
		out = append(out, lb.c.recent.list(lb.ID)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func (r *recentErrors) list(lb string) []RecentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecentError, 0, r.n)
	for i := 1; i <= r.n; i++ {
		s := &r.slots[(r.next-i+recentSize)%recentSize]
		re := RecentError{
			Time:           s.time,
			LoadBalancer:   lb,
			Code:           s.code,
			Target:         s.target,
			TargetText:     "-",
			TargetGroupARN: s.targetGroupARN,
			Request:        string(s.request[:s.requestLen]),
			ErrorReason:    s.errorReason,
			Classification: s.classification,
		}
		if s.target.IsValid() {
			re.TargetText = s.target.String()
		}
		out = append(out, re)
	}
	return out
}
