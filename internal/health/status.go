package health

import (
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Status is the live health of one target registered in one target group. It
// survives configuration changes (the Registry hands the same *Status to every
// snapshot that keeps the registration), and the data plane reads it without a
// lock. Its methods are safe for concurrent use.
type Status struct {
	group *Group
	addr  netip.AddrPort
	// owner tags the target connections that carry the registration's
	// requests (see Owner); unique within the Registry, never 0.
	owner uint64

	// Read on the request path.
	state        atomic.Uint32 // State
	healthySince atomic.Int64  // unix nanoseconds; 0 when not healthy
	connErrors   atomic.Uint64
	// inFlight is written by every request to the target, from every core:
	// it has a cache line of its own, so that the fields read beside it are
	// not invalidated each time.
	_        [64]byte
	inFlight atomic.Int64
	_        [56]byte
	// outcomes feed anomaly mitigation (anomaly.go); written only for
	// groups that have it on.
	outcomes outcomes

	mu  sync.Mutex
	rec Record
	// slowStart follows the target in and out of healthy (nil: nobody).
	slowStart SlowStarter
	// conns hold the target connections of the requests in flight, cut when
	// the deregistration delay ends.
	conns []Conns
	// prober and drain are the running health checks and deregistration timer,
	// owned by the Registry (under its lock).
	prober *prober
	drain  *time.Timer
}

func newStatus(g *Group, addr netip.AddrPort, rec Record) *Status {
	g.reg.owners++
	s := &Status{group: g, addr: addr, owner: g.reg.owners, rec: rec}
	s.state.Store(uint32(rec.State))
	return s
}

// Addr is the target's address.
func (s *Status) Addr() netip.AddrPort { return s.addr }

// TargetGroup is the name of the target group the target is registered in.
func (s *Status) TargetGroup() string { return s.group.name }

// State is the target's current state. The request-path methods (State,
// Healthy, Registered, Begin, End, ConnectionError) accept a nil *Status, the
// status of a target in a snapshot compiled by hand: initial, nothing counted.
func (s *Status) State() State {
	if s == nil {
		return StateInitial
	}
	return State(s.state.Load())
}

// Healthy reports whether the target is healthy, the state in which it receives
// new requests.
func (s *Status) Healthy() bool { return s.State() == StateHealthy }

// Registered reports whether the target is registered and in use: initial,
// healthy or unhealthy (not draining or unused). Such targets receive requests
// when their group fails open.
func (s *Status) Registered() bool {
	switch s.State() {
	case StateInitial, StateHealthy, StateUnhealthy, StateUnavailable:
		return true
	}
	return false
}

// HealthySince is when the target last became healthy, the start of its slow
// start window; zero when it is not healthy.
func (s *Status) HealthySince() time.Time {
	ns := s.healthySince.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Begin records a request starting on the target: it counts as in flight
// until End, for draining and for least outstanding requests. It is one atomic
// addition: the connections that carry the request are tagged with Owner where
// they live (the upstream pool), which cuts them when the deregistration delay
// ends.
func (s *Status) Begin() {
	if s != nil {
		s.inFlight.Add(1)
	}
}

// End records the end of a request that Begin counted.
func (s *Status) End() {
	if s != nil {
		s.inFlight.Add(-1)
	}
}

// InFlight is the number of requests in flight on the target: between Begin
// and End.
func (s *Status) InFlight() int64 {
	if s == nil {
		return 0
	}
	return s.inFlight.Load()
}

// Owner identifies the registration to the connections that carry its
// requests: the proxy tags each target connection with it for the time of a
// request (upstream.Conn.SetOwner), and when the deregistration delay ends the
// registration's Conns close those still tagged (ALB cuts such requests, the
// client gets a 502). 0 for a nil *Status: no owner.
func (s *Status) Owner() uint64 {
	if s == nil {
		return 0
	}
	return s.owner
}

// Conns are the connections to a target (an upstream.Pool). Cut closes those
// in use for a request of owner and reports how many it closed.
type Conns interface {
	Cut(owner uint64) int
}

// SetConns adds c to the connections whose requests of this registration are
// cut when its deregistration delay ends. Each compiled snapshot sets the
// target's pool again; a pool set before stays (requests of an older
// snapshot may still use it).
func (s *Status) SetConns(c Conns) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.conns, c) {
		s.conns = append(s.conns, c)
	}
}

// ConnectionError counts a failed connection from the load balancer to the
// target (not a health check): ALB's TargetConnectionErrorCount.
func (s *Status) ConnectionError() {
	if s != nil {
		s.connErrors.Add(1)
	}
}

// ConnectionErrors is how many connections to the target failed since it was
// registered.
func (s *Status) ConnectionErrors() uint64 { return s.connErrors.Load() }

// Record returns the state machine's record of the target.
func (s *Status) Record() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

// Description is the target's state description: AWS's wording for its reason
// and, when connections to the target failed, how many did.
func (s *Status) Description() string {
	return describe(s.Record(), s.ConnectionErrors())
}

func describe(r Record, connErrors uint64) string {
	d := r.Description()
	if connErrors == 0 {
		return d
	}
	n := strconv.FormatUint(connErrors, 10) + " target connection error"
	if connErrors != 1 {
		n += "s"
	}
	if d == "" {
		return n
	}
	return d + " (" + n + ")"
}

// SlowStarter is a target's slow start state (balance.Runtime): slow start
// begins when the target turns healthy, and ends when it stops being healthy
// (alb-data-plane.md §4.1, slow_start.duration_seconds).
type SlowStarter interface {
	EnterSlowStart(t time.Time)
	LeaveSlowStart()
}

// SetSlowStarter makes ss follow the target's transitions into and out of
// healthy from now on. Each compiled snapshot sets it again; the last one set
// is told.
func (s *Status) SetSlowStarter(ss SlowStarter) {
	s.mu.Lock()
	s.slowStart = ss
	s.mu.Unlock()
}

// update applies f to the record (one health check result, a check starting, a
// lifecycle event) and reports the previous and new records. When the state
// changes, the group's version moves on so that cached routing decisions are
// recomputed; the atomics change under the lock so that they always agree with
// the record.
func (s *Status) update(f func(Record) Record, now time.Time) (old, rec Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old = s.rec
	rec = f(old)
	s.rec = rec
	if old.State != rec.State {
		switch {
		case rec.State == StateHealthy:
			s.healthySince.Store(now.UnixNano())
			if s.slowStart != nil {
				s.slowStart.EnterSlowStart(now)
			}
		case old.State == StateHealthy:
			s.healthySince.Store(0)
			if s.slowStart != nil {
				s.slowStart.LeaveSlowStart()
			}
		}
		s.state.Store(uint32(rec.State))
		s.group.version.Add(1)
	}
	return old, rec
}

// cut closes the connections of the requests still in flight.
func (s *Status) cut() int {
	s.mu.Lock()
	cs := slices.Clone(s.conns)
	s.mu.Unlock()
	n := 0
	for _, c := range cs {
		n += c.Cut(s.owner)
	}
	return n
}
