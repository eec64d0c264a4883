package health

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// testRegistry returns a registry whose second lasts unit, logging into logs.
func testRegistry(t *testing.T, unit time.Duration) (*Registry, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	r := NewRegistry(Options{Second: unit, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(r.Close)
	return r, logs
}

// codeTarget answers health checks with the code it holds and counts them.
type codeTarget struct {
	addr   netip.AddrPort
	code   atomic.Int64
	checks atomic.Int64
}

func startCodeTarget(t *testing.T, code int) *codeTarget {
	t.Helper()
	ct := &codeTarget{}
	ct.code.Store(int64(code))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct.checks.Add(1)
		w.WriteHeader(int(ct.code.Load()))
	}))
	t.Cleanup(srv.Close)
	ct.addr = addrOf(t, srv.URL)
	return ct
}

func spec(g *Group, delay time.Duration, inUse bool, hc config.HealthCheck, addrs ...netip.AddrPort) GroupSpec {
	sp := GroupSpec{Name: g.Name(), LoadBalancer: "web", InUse: inUse, HealthCheck: hc, DeregistrationDelay: delay}
	for _, a := range addrs {
		sp.Targets = append(sp.Targets, g.Target(a))
	}
	return sp
}

func fastCheck() config.HealthCheck {
	h, err := config.ValidateHealthCheck(config.HealthCheck{IntervalSeconds: 5, TimeoutSeconds: 4,
		HealthyThresholdCount: 2, UnhealthyThresholdCount: 2})
	if err != nil {
		panic(err)
	}
	return h
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

func stateOf(r *Registry, tg string, a netip.AddrPort) string {
	th, _ := r.Lookup(tg, a)
	return th.State.String() + "/" + string(th.Reason)
}

func TestRegistryLifecycle(t *testing.T) {
	t.Parallel()
	r, logs := testRegistry(t, 20*time.Millisecond) // interval 100 ms
	a, b := startCodeTarget(t, 200), startCodeTarget(t, 500)
	g := r.Group("app")
	if got := stateOf(r, "app", a.addr); got != "unused/Target.NotRegistered" {
		t.Errorf("before registration: %s", got)
	}
	delay := 10 * time.Second // 200 ms at this scale
	r.Apply([]GroupSpec{spec(g, delay, true, fastCheck(), a.addr, b.addr)})
	waitFor(t, "a healthy", func() bool { return stateOf(r, "app", a.addr) == "healthy/" })
	waitFor(t, "b unhealthy", func() bool {
		return stateOf(r, "app", b.addr) == "unhealthy/Target.ResponseCodeMismatch"
	})
	if th, _ := r.Lookup("app", b.addr); th.Description != "Health checks failed with these codes: [500]" {
		t.Errorf("b description %q", th.Description)
	}
	stA := g.Target(a.addr)
	if stA.HealthySince().IsZero() || !stA.Healthy() {
		t.Errorf("a healthy since %v", stA.HealthySince())
	}
	if c := r.Counts("app"); c.Healthy != 1 || c.Unhealthy != 1 {
		t.Errorf("counts %+v", c)
	}

	// Deregister a: it drains for the delay, no longer checked, then leaves.
	stA.Begin() // a request in flight
	r.Apply([]GroupSpec{spec(g, delay, true, fastCheck(), b.addr)})
	if got := stateOf(r, "app", a.addr); got != "draining/Target.DeregistrationInProgress" {
		t.Fatalf("after deregistration: %s", got)
	}
	if c := r.Counts("app"); c.Healthy != 0 || c.Unhealthy != 1 || c.Draining != 1 {
		t.Errorf("counts while draining %+v (draining counts neither healthy nor unhealthy)", c)
	}
	checks := a.checks.Load()
	waitFor(t, "a removed", func() bool { return stateOf(r, "app", a.addr) == "unused/Target.NotRegistered" })
	stA.End()
	if n := a.checks.Load(); n > checks+1 { // one check may have been under way
		t.Errorf("a draining target was checked %d more times", n-checks)
	}
	for _, th := range r.TargetHealth() {
		if th.Target == a.addr {
			t.Errorf("removed target still listed: %+v", th)
		}
	}

	// Registered again: initial, then healthy.
	r.Apply([]GroupSpec{spec(g, delay, true, fastCheck(), a.addr, b.addr)})
	if got := stateOf(r, "app", a.addr); !strings.HasPrefix(got, "initial/") && got != "healthy/" {
		t.Errorf("registered again: %s", got)
	}
	waitFor(t, "a healthy again", func() bool { return stateOf(r, "app", a.addr) == "healthy/" })

	// b recovers after the healthy threshold.
	b.code.Store(200)
	waitFor(t, "b healthy", func() bool { return stateOf(r, "app", b.addr) == "healthy/" })

	for _, want := range []string{
		`msg="target health changed" load_balancer=web target_group=app target=` + b.addr.String() + ` from=initial to=unhealthy reason=Target.ResponseCodeMismatch`,
		`msg="target health changed" load_balancer=web target_group=app target=` + b.addr.String() + ` from=unhealthy to=healthy`,
		`msg="target draining" load_balancer=web target_group=app target=` + a.addr.String(),
		`msg="target deregistered" load_balancer=web target_group=app target=` + a.addr.String(),
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestRegistryReregisterWhileDraining(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, 20*time.Millisecond)
	a := startCodeTarget(t, 200)
	g := r.Group("app")
	r.Apply([]GroupSpec{spec(g, time.Hour, true, fastCheck(), a.addr)})
	st := g.Target(a.addr)
	r.Apply([]GroupSpec{spec(g, time.Hour, true, fastCheck())})
	if st.State() != StateDraining {
		t.Fatalf("state %s", st.State())
	}
	if again := g.Target(a.addr); again != st {
		t.Fatal("a draining target registered again must keep its status (in-flight count, errors)")
	}
	r.Apply([]GroupSpec{spec(g, time.Hour, true, fastCheck(), a.addr)})
	waitFor(t, "healthy", func() bool { return st.State() == StateHealthy })
}

func TestRegistryNotInUse(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, 20*time.Millisecond)
	a := startCodeTarget(t, 200)
	g := r.Group("spare")
	r.Apply([]GroupSpec{spec(g, time.Second, false, fastCheck(), a.addr)})
	if got := stateOf(r, "spare", a.addr); got != "unused/Target.NotInUse" {
		t.Fatalf("target of an unused group: %s", got)
	}
	time.Sleep(300 * time.Millisecond) // three intervals: no check may come
	if n := a.checks.Load(); n != 0 {
		t.Errorf("target of an unused group checked %d times", n)
	}
	// A listener starts using the group: checks start.
	r.Apply([]GroupSpec{spec(g, time.Second, true, fastCheck(), a.addr)})
	waitFor(t, "healthy", func() bool { return stateOf(r, "spare", a.addr) == "healthy/" })
}

// TestRegistryDelayEndCutsRequests: when the deregistration delay ends, the
// target connections still carrying a request of the registration are closed
// (in the target's upstream pool, where they are tagged with its owner), and
// no other: not the idle ones, not those of the same target in another group.
func TestRegistryDelayEndCutsRequests(t *testing.T) {
	t.Parallel()
	r, logs := testRegistry(t, 10*time.Millisecond)
	target := startCodeTarget(t, 200)
	g, other := r.Group("app"), r.Group("other")
	r.Apply([]GroupSpec{spec(g, time.Second, true, fastCheck(), target.addr), spec(other, time.Hour, true, fastCheck(), target.addr)})
	st, stOther := g.Target(target.addr), other.Target(target.addr)
	if st.Owner() == 0 || st.Owner() == stOther.Owner() {
		t.Fatalf("owners %d and %d: want distinct and not 0", st.Owner(), stOther.Owner())
	}
	pool := upstream.NewPool(target.addr.String(), upstream.Options{})
	defer pool.Close()
	st.SetConns(pool)
	stOther.SetConns(pool)
	conn := func(owner uint64) *upstream.Conn {
		t.Helper()
		c, err := pool.Dial(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c.SetOwner(owner)
		return c
	}
	busy, busyOther, idle := conn(st.Owner()), conn(stOther.Owner()), conn(st.Owner())
	idle.Release() // a request that ended: its tag goes with it
	st.Begin()
	r.Apply([]GroupSpec{spec(other, time.Hour, true, fastCheck(), target.addr)}) // app goes away
	if st.State() != StateDraining {
		t.Fatalf("state %s", st.State())
	}
	// The delay (10 ms) ends: the connection of the request in flight closes.
	busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := busy.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read from the connection of the request in flight: %v, want it closed", err)
	}
	busy.Discard()
	st.End()
	waitFor(t, "removed", func() bool { return st.State() == StateUnused })
	waitFor(t, "log", func() bool { return strings.Contains(logs.String(), "requests_cut=1") })
	for _, th := range r.TargetHealth() {
		if th.TargetGroup == "app" {
			t.Errorf("after removal: %+v", th)
		}
	}
	// The other group's request and the idle connection were left alone.
	if got := pool.Open(); got != 2 {
		t.Errorf("%d connections open after the cut, want 2 (the other group's and the idle one)", got)
	}
	busyOther.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := busyOther.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the other group's connection: %v, want it open", err)
	}
	busyOther.Discard()
}

// TestPhaseSpreadsChecks checks that 1,000 targets' checks spread over the
// interval: no tenth of it holds more than twice its share.
func TestPhaseSpreadsChecks(t *testing.T) {
	const n, buckets = 1000, 10
	interval := 30 * time.Second
	var count [buckets]int
	base := netip.MustParseAddr("10.0.0.1")
	for i := range n {
		p := phase("app", netip.AddrPortFrom(base, uint16(8000+i)), interval)
		if p < 0 || p >= interval {
			t.Fatalf("phase %v outside the interval", p)
		}
		count[p*buckets/interval]++
	}
	for i, c := range count {
		if c > 2*n/buckets {
			t.Errorf("bucket %d holds %d of %d checks: %v", i, c, n, count)
		}
	}
}

// TestChecksKeepTheirInterval: each target is checked once per interval, on
// its own slot, whatever its phase (a target whose slot is right at the start
// of the interval included).
func TestChecksKeepTheirInterval(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, 20*time.Millisecond) // interval 100 ms
	g := r.Group("app")
	var targets []*codeTarget
	var addrs []netip.AddrPort
	for i := range 20 {
		ct := startCodeTarget(t, 200)
		if i%2 == 1 {
			ct.code.Store(503) // failing checks keep the schedule too
		}
		targets = append(targets, ct)
		addrs = append(addrs, ct.addr)
	}
	r.Apply([]GroupSpec{spec(g, time.Second, true, fastCheck(), addrs...)})
	const window = time.Second
	time.Sleep(window) // let the checks run
	for _, ct := range targets {
		// 10 intervals: at most 11 slots, plus one for lateness.
		if n := ct.checks.Load(); n > 12 {
			t.Errorf("%v checked %d times in %v with a 100 ms interval", ct.addr, n, window)
		}
	}
}

// slowStarts records a target's slow start transitions.
type slowStarts struct {
	mu     sync.Mutex
	events []string
}

func (s *slowStarts) EnterSlowStart(time.Time) { s.add("enter") }
func (s *slowStarts) LeaveSlowStart()          { s.add("leave") }
func (s *slowStarts) add(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}
func (s *slowStarts) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.events, " ")
}

// TestSlowStartFollowsHealthy: slow start begins each time the target turns
// healthy and ends when it stops being healthy.
func TestSlowStartFollowsHealthy(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, 20*time.Millisecond)
	a := startCodeTarget(t, 200)
	g := r.Group("app")
	ss := &slowStarts{}
	sp := spec(g, time.Second, true, fastCheck(), a.addr)
	sp.Targets[0].SetSlowStarter(ss) // as a compile does
	r.Apply([]GroupSpec{sp})
	waitFor(t, "healthy", func() bool { return ss.String() == "enter" })
	a.code.Store(500)
	waitFor(t, "unhealthy", func() bool { return ss.String() == "enter leave" })
	a.code.Store(200)
	waitFor(t, "healthy again", func() bool { return ss.String() == "enter leave enter" })
}

// TestFirstCheckDelay: a target registered alone is checked at once; targets
// registered together spread their first checks over a window that grows with
// their number, bounded by firstCheckWindow and by the interval.
func TestFirstCheckDelay(t *testing.T) {
	base := netip.MustParseAddr("10.0.0.1")
	interval := 30 * time.Second
	delays := func(batch int, interval time.Duration) []time.Duration {
		var out []time.Duration
		for i := range batch {
			ph := phase("app", netip.AddrPortFrom(base, uint16(8000+i)), interval)
			out = append(out, firstCheckDelay(ph, interval, batch, time.Second))
		}
		return out
	}
	for _, d := range delays(1, interval) {
		if d > firstCheckSpacing {
			t.Errorf("a target registered alone waits %v for its first check, want at most %v", d, firstCheckSpacing)
		}
	}
	const n, buckets = 1000, 10
	window := n * firstCheckSpacing
	var count [buckets]int
	for _, d := range delays(n, interval) {
		if d < 0 || d >= window {
			t.Fatalf("first check after %v, outside the %v window of %d targets", d, window, n)
		}
		count[d*buckets/window]++
	}
	for i, c := range count {
		if c > 2*n/buckets {
			t.Errorf("%d targets registered together: bucket %d of their window holds %d first checks: %v", n, i, c, count)
		}
	}
	for _, d := range delays(10000, interval) {
		if d >= firstCheckWindow*time.Second {
			t.Fatalf("first check after %v, past the %d s window", d, firstCheckWindow)
		}
	}
	for _, d := range delays(n, time.Second) {
		if d >= time.Second {
			t.Fatalf("first check after %v, past the 1 s interval", d)
		}
	}
}

// TestNewTargetCheckedAtOnce: with ALB's longest interval (300 s) and real
// seconds, a newly registered target that answers turns healthy after its
// first check, long before one interval has passed.
func TestNewTargetCheckedAtOnce(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, time.Second)
	g := r.Group("app")
	hc, err := config.ValidateHealthCheck(config.HealthCheck{IntervalSeconds: 300, TimeoutSeconds: 5,
		HealthyThresholdCount: 5, UnhealthyThresholdCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	ct := startCodeTarget(t, 200)
	r.Apply([]GroupSpec{spec(g, time.Second, true, hc, ct.addr)})
	waitFor(t, "the new target healthy", func() bool { return stateOf(r, "app", ct.addr) == "healthy/" })
	if n := ct.checks.Load(); n != 1 {
		t.Errorf("target checked %d times before turning healthy, want 1 (one pass leaves initial)", n)
	}
}

// TestRegistryDrainUntil: a target deregistered by a change made elsewhere
// drains until the time that change recorded, not for a whole delay from when
// this node applied it; a time already past ends its draining at once.
func TestRegistryDrainUntil(t *testing.T) {
	t.Parallel()
	r, _ := testRegistry(t, 20*time.Millisecond) // 1 s lasts 20 ms
	a, b := startCodeTarget(t, 200), startCodeTarget(t, 200)
	g := r.Group("app")
	r.Apply([]GroupSpec{spec(g, time.Hour, true, fastCheck(), a.addr, b.addr)})
	waitFor(t, "both healthy", func() bool {
		return stateOf(r, "app", a.addr) == "healthy/" && stateOf(r, "app", b.addr) == "healthy/"
	})
	// An hour's delay lasts 72 s at this scale; the change's end time leaves
	// 5 s (100 ms) for a, and none for b.
	sp := spec(g, time.Hour, true, fastCheck())
	sp.DrainUntil = map[netip.AddrPort]time.Time{a.addr: time.Now().Add(5 * time.Second), b.addr: time.Now().Add(-time.Minute)}
	r.Apply([]GroupSpec{sp})
	waitFor(t, "b removed at once", func() bool { return stateOf(r, "app", b.addr) == "unused/Target.NotRegistered" })
	waitFor(t, "a removed when its recorded delay ended", func() bool { return stateOf(r, "app", a.addr) == "unused/Target.NotRegistered" })
}
