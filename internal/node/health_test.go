package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// healthTemplate checks /health every 5 s (timeout 4 s) with thresholds 3
// healthy and 2 unhealthy; Attrs are target group attributes.
const healthTemplate = `load_balancers:
  - name: web
    access_log: {path: {{.LogPath}}}
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        protocol: HTTP
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /health, interval_seconds: 5, timeout_seconds: 4, healthy_threshold_count: 3, unhealthy_threshold_count: 2}
    attributes:
{{- range $k, $v := .Attrs}}
      {{$k}}: {{$v}}
{{- end}}
    targets:
{{- range .Targets}}
      - {id: {{host .}}, port: {{port .}}}
{{- else}} []
{{- end}}
`

// healthLB is a node running healthTemplate.
type healthLB struct {
	*lbFixture
	client *http.Client
}

// withChecks turns health checks on, one configured second lasting unit.
func withChecks(unit time.Duration) func(*node.Options) {
	return func(o *node.Options) {
		o.DisableHealthChecks = false
		o.HealthSecond = unit
	}
}

func startHealthLB(t *testing.T, targets []string, delaySeconds int, opts ...func(*node.Options)) *healthLB {
	t.Helper()
	return startHealthLBAttrs(t, targets, delayAttr(delaySeconds), opts...)
}

// startHealthLBAttrs starts healthTemplate with target group attributes attrs.
func startHealthLBAttrs(t *testing.T, targets []string, attrs map[string]string, opts ...func(*node.Options)) *healthLB {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	f := &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}
	yaml := renderConfig(t, healthTemplate, fixtureData{Port: f.port, LogPath: f.logPath, Targets: targets, Attrs: attrs})
	f.node = startNode(t, ln, dir, yaml, opts...)
	client := &http.Client{Timeout: 20 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return &healthLB{lbFixture: f, client: client}
}

func delayAttr(seconds int) map[string]string {
	return map[string]string{"deregistration_delay.timeout_seconds": fmt.Sprint(seconds)}
}

func (f *lbFixture) healthConfig(targets []string, delaySeconds int) string {
	return renderConfig(f.t, healthTemplate, fixtureData{Port: f.port, LogPath: f.logPath, Targets: targets, Attrs: delayAttr(delaySeconds)})
}

// reload applies the template with other targets.
func (h *healthLB) reload(targets []string, delaySeconds int) {
	h.t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(h.healthConfig(targets, delaySeconds)))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.node.Apply(cfg); err != nil {
		h.t.Fatal(err)
	}
}

// state returns a target's "state/reason".
func (h *healthLB) state(target string) string {
	th, _ := h.node.Health().Lookup("app", netip.MustParseAddrPort(target))
	return th.State.String() + "/" + string(th.Reason)
}

// status returns the live status of a registered target.
func (h *healthLB) status(target string) *health.Status {
	h.t.Helper()
	for _, t := range h.node.Snapshot().TargetGroups[0].Targets {
		if t.Addr.String() == target {
			return t.Health
		}
	}
	h.t.Fatalf("%s is not registered", target)
	return nil
}

// bodies sends n requests for path and returns the bodies, concatenated.
func (h *healthLB) bodies(path string, n int) string {
	h.t.Helper()
	var b strings.Builder
	for range n {
		resp, err := h.client.Get(h.url(path))
		if err != nil {
			h.t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.Write(body)
	}
	return b.String()
}

// waitUntil polls cond until it holds, failing the test after 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, what, cond)
}

// scriptedTarget answers health checks with the code it holds (switched by the
// test) and every other request with its name. At each check it records the
// code it answers and the load balancer's record of the target at that moment:
// the checker applies one check's result before it starts the next, so the
// record seen at check k+1 is the state machine's answer to checks 1..k.
type scriptedTarget struct {
	*httpTarget
	code   atomic.Int64
	status atomic.Pointer[health.Status]
	mu     sync.Mutex
	seen   []seenCheck
}

type seenCheck struct {
	code   int
	before health.Record // the record when the check arrived
}

func startScriptedTarget(t *testing.T, name string, code int) *scriptedTarget {
	st := &scriptedTarget{}
	st.code.Store(int64(code))
	st.httpTarget = startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			io.WriteString(w, name)
			return
		}
		c := int(st.code.Load())
		if s := st.status.Load(); s != nil {
			st.mu.Lock()
			st.seen = append(st.seen, seenCheck{code: c, before: s.Record()})
			st.mu.Unlock()
		}
		w.WriteHeader(c)
	})
	return st
}

// switchTo makes the target answer code from now on and returns the number of
// checks recorded so far.
func (st *scriptedTarget) switchTo(code int) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.code.Store(int64(code))
	return len(st.seen)
}

// afterFirst waits until the target answered n checks with code from check
// index from on, plus one more (whose record shows the result of the n-th),
// and returns the records seen after each of those n checks.
func (st *scriptedTarget) afterFirst(t *testing.T, from, code, n int) []health.Record {
	t.Helper()
	var out []health.Record
	waitUntil(t, fmt.Sprintf("%d checks answered %d", n, code), func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		out = out[:0]
		first := -1
		for i := from; i < len(st.seen); i++ {
			if first < 0 && st.seen[i].code == code {
				first = i
			}
			if first >= 0 && i > first && len(out) < n {
				out = append(out, st.seen[i].before)
			}
		}
		return len(out) == n
	})
	return out
}

// checkedTarget answers /health with healthCode and everything else with name.
func checkedTarget(t *testing.T, name string, healthCode int) *httpTarget {
	return startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(healthCode)
			return
		}
		io.WriteString(w, name)
	})
}

func has(s string, names ...string) bool {
	for _, n := range names {
		if !strings.Contains(s, n) {
			return false
		}
	}
	return true
}

// TestHealthThresholdsDecideRouting: a target that starts failing its check
// goes unhealthy after exactly UnhealthyThresholdCount failures and stops
// receiving requests; it recovers after exactly HealthyThresholdCount passes.
func TestHealthThresholdsDecideRouting(t *testing.T) {
	t.Parallel()
	a := startScriptedTarget(t, "a", 200)
	b := checkedTarget(t, "b", 200)
	h := startHealthLB(t, []string{a.addr, b.addr}, 300, withChecks(100*time.Millisecond))
	st := h.status(a.addr)
	a.status.Store(st)
	waitUntil(t, "both healthy", func() bool { return h.state(a.addr) == "healthy/" && h.state(b.addr) == "healthy/" })
	if got := h.bodies("/", 4); !has(got, "a", "b") {
		t.Fatalf("healthy targets got %q, want both", got)
	}

	// A reload that changes nothing keeps every state and count.
	h.reload([]string{a.addr, b.addr}, 300)
	if h.status(a.addr) != st || h.state(a.addr) != "healthy/" {
		t.Fatalf("identical reload: a is %s", h.state(a.addr))
	}

	// Failing: healthy after the first failure, unhealthy after the second.
	from := a.switchTo(500)
	recs := a.afterFirst(t, from, 500, 2)
	if recs[0].State != health.StateHealthy || recs[0].Fails != 1 {
		t.Errorf("after 1 failed check of 2: %+v, want healthy", recs[0])
	}
	if recs[1].State != health.StateUnhealthy || recs[1].Fails != 2 || recs[1].Reason != health.ReasonResponseCodeMismatch {
		t.Errorf("after 2 failed checks of 2: %+v, want unhealthy", recs[1])
	}
	if got := h.bodies("/", 6); got != "bbbbbb" {
		t.Fatalf("with a unhealthy: %q, want only b", got)
	}
	checkTargetHealthJSON(t, h, map[string][3]string{
		a.addr: {"unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"},
		b.addr: {"healthy", "", ""},
	})

	// Recovering: still unhealthy after one and two passes, healthy after three.
	from = a.switchTo(200)
	recs = a.afterFirst(t, from, 200, 3)
	for i, want := range []health.State{health.StateUnhealthy, health.StateUnhealthy, health.StateHealthy} {
		if recs[i].State != want {
			t.Errorf("after %d passed checks of 3: %+v, want %s", i+1, recs[i], want)
		}
	}
	if got := h.bodies("/", 4); !has(got, "a", "b") {
		t.Fatalf("after recovery: %q, want both", got)
	}
	if since := st.HealthySince(); since.IsZero() || time.Since(since) > time.Minute {
		t.Errorf("healthy since %v", since)
	}
}

// checkTargetHealthJSON checks GET /v1/target-health on the admin handler.
func checkTargetHealthJSON(t *testing.T, h *healthLB, want map[string][3]string) {
	t.Helper()
	srv := httptest.NewServer(admin.Handler(admin.Options{Health: h.node.Health()}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/target-health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/json" {
		t.Fatalf("GET /v1/target-health: %d %s", resp.StatusCode, ct)
	}
	var doc struct {
		Targets []map[string]any `json:"targets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Targets) != len(want) {
		t.Fatalf("targets %v, want %d", doc.Targets, len(want))
	}
	for _, tg := range doc.Targets {
		w, ok := want[fmt.Sprint(tg["target"])]
		if !ok {
			t.Errorf("unexpected target %v", tg)
			continue
		}
		if tg["load_balancer"] != "web" || tg["target_group"] != "app" || tg["state"] != w[0] || tg["reason"] != w[1] || tg["description"] != w[2] {
			t.Errorf("target %v, want web/app %v", tg, w)
		}
	}
}

// TestHealthFailOpenAndTimeout: when every target is unhealthy the load
// balancer routes to all of them; a check without an answer within the
// timeout is Target.Timeout.
func TestHealthFailOpenAndTimeout(t *testing.T) {
	t.Parallel()
	hang := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			<-r.Context().Done() // never answers; the check gives up
			return
		}
		io.WriteString(w, "a")
	})
	bad := checkedTarget(t, "b", 503)
	h := startHealthLB(t, []string{hang.addr, bad.addr}, 300, withChecks(50*time.Millisecond))
	waitUntil(t, "both unhealthy", func() bool {
		return h.state(hang.addr) == "unhealthy/Target.Timeout" && h.state(bad.addr) == "unhealthy/Target.ResponseCodeMismatch"
	})
	checkTargetHealthJSON(t, h, map[string][3]string{
		hang.addr: {"unhealthy", "Target.Timeout", "Request timed out"},
		bad.addr:  {"unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]"},
	})
	if _, failOpen := h.node.Snapshot().TargetGroups[0].Candidates(); !failOpen {
		t.Error("Candidates does not report failing open")
	}
	if got := h.bodies("/", 4); !has(got, "a", "b") {
		t.Fatalf("all unhealthy: %q, want requests to both (fail open)", got)
	}
}

// TestUnhealthyStateRoutingThreshold: with
// target_group_health.unhealthy_state_routing.minimum_healthy_targets.count
// at 2, one healthy target of three is too few: the group fails open.
func TestUnhealthyStateRoutingThreshold(t *testing.T) {
	t.Parallel()
	a, b, c := checkedTarget(t, "a", 200), checkedTarget(t, "b", 500), checkedTarget(t, "c", 500)
	h := startHealthLBAttrs(t, []string{a.addr, b.addr, c.addr}, map[string]string{
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "2",
		"target_group_health.dns_failover.minimum_healthy_targets.count":            "2",
	}, withChecks(50*time.Millisecond))
	waitUntil(t, "one healthy, two unhealthy", func() bool {
		return h.state(a.addr) == "healthy/" && strings.HasPrefix(h.state(b.addr), "unhealthy/") && strings.HasPrefix(h.state(c.addr), "unhealthy/")
	})
	if got := h.bodies("/", 6); !has(got, "a", "b", "c") {
		t.Fatalf("below the healthy threshold: %q, want all three targets", got)
	}
}

// TestNewTargetTakesTrafficOnceHealthy: a registered target gets no request
// until it is healthy (while others are), then gets its share.
func TestNewTargetTakesTrafficOnceHealthy(t *testing.T) {
	t.Parallel()
	a := checkedTarget(t, "a", 200)
	b := startScriptedTarget(t, "b", 500)
	h := startHealthLB(t, []string{a.addr}, 300, withChecks(100*time.Millisecond))
	waitUntil(t, "a healthy", func() bool { return h.state(a.addr) == "healthy/" })
	h.reload([]string{a.addr, b.addr}, 300)
	if s := h.state(b.addr); !strings.HasPrefix(s, "initial/Elb.") {
		t.Fatalf("new target: %s", s)
	}
	if got := h.bodies("/", 4); got != "aaaa" {
		t.Fatalf("with b not healthy: %q, want only a", got)
	}
	b.switchTo(200)
	waitUntil(t, "b healthy", func() bool { return h.state(b.addr) == "healthy/" })
	if got := h.bodies("/", 4); !has(got, "a", "b") {
		t.Fatalf("with b healthy: %q, want both", got)
	}
}

// slowTarget answers /slow once release is closed, announcing arrivals on hits.
func slowTarget(t *testing.T, name string) (ht *httpTarget, hits chan struct{}, release chan struct{}) {
	hits, release = make(chan struct{}, 16), make(chan struct{})
	ht = startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			hits <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, name)
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return ht, hits, release
}

type result struct {
	code int
	body string
	err  error
}

func (h *healthLB) getAsync(path string) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := h.client.Get(h.url(path))
		if err != nil {
			out <- result{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- result{code: resp.StatusCode, body: string(body), err: err}
	}()
	return out
}

func waitHit(t *testing.T, hits <-chan struct{}) {
	t.Helper()
	select {
	case <-hits:
	case <-time.After(20 * time.Second):
		t.Fatal("the request never reached its target")
	}
}

// TestDrainingLetsInFlightRequestsFinish: a deregistered target drains: its
// request in flight finishes while new requests go elsewhere, it shows
// draining until the deregistration delay ends, then it disappears. Without
// registered targets the load balancer answers 503.
func TestDrainingLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	a, hits, release := slowTarget(t, "a")
	b := checkedTarget(t, "b", 200)
	const delay = 60 // seconds of 50 ms: 3 s
	h := startHealthLB(t, []string{a.addr}, delay, func(o *node.Options) { o.HealthSecond = 50 * time.Millisecond })
	slow := h.getAsync("/slow")
	waitHit(t, hits)

	start := time.Now()
	h.reload([]string{b.addr}, delay)
	if s := h.state(a.addr); s != "draining/Target.DeregistrationInProgress" {
		t.Fatalf("deregistered target: %s", s)
	}
	if th, _ := h.node.Health().Lookup("app", netip.MustParseAddrPort(a.addr)); th.InFlight != 1 {
		t.Errorf("draining target in flight: %d, want 1", th.InFlight)
	}
	if got := h.bodies("/", 4); got != "bbbb" {
		t.Fatalf("new requests while a drains: %q, want only b", got)
	}
	checkTargetHealthJSON(t, h, map[string][3]string{
		a.addr: {"draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"},
		b.addr: {"initial", "Elb.RegistrationInProgress", "Target registration is in progress"},
	})
	close(release)
	if r := <-slow; r.err != nil || r.code != 200 || r.body != "a" {
		t.Fatalf("in-flight request on the draining target: %+v", r)
	}
	// Nothing in flight any more, but the state stays draining until the
	// delay ends, as on ALB.
	if s := h.state(a.addr); s != "draining/Target.DeregistrationInProgress" && time.Since(start) < 2*time.Second {
		t.Fatalf("after its last request: %s", s)
	}
	waitUntil(t, "a removed", func() bool { return h.state(a.addr) == "unused/Target.NotRegistered" })
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("removed after %v, before the 3 s delay", d)
	}
	checkTargetHealthJSON(t, h, map[string][3]string{
		b.addr: {"initial", "Elb.RegistrationInProgress", "Target registration is in progress"},
	})

	// No registered target: 503.
	h.reload(nil, delay)
	raw := rawExchange(t, h.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 503, "Service Temporarily Unavailable", "close")
}

// TestDeregistrationDelayEndCutsRequests: a request still in flight when the
// delay ends fails with 502, as on ALB.
func TestDeregistrationDelayEndCutsRequests(t *testing.T) {
	t.Parallel()
	a, hits, _ := slowTarget(t, "a")
	b := checkedTarget(t, "b", 200)
	h := startHealthLB(t, []string{a.addr}, 10, func(o *node.Options) { o.HealthSecond = 50 * time.Millisecond })
	slow := h.getAsync("/slow")
	waitHit(t, hits)
	h.reload([]string{b.addr}, 10) // 500 ms
	r := <-slow
	if r.err != nil || r.code != 502 {
		t.Fatalf("request in flight past the delay: %+v, want 502", r)
	}
	e := h.logLines(1)[0]
	if e.ELBStatusCode != 502 || e.Target.String() != a.addr {
		t.Errorf("log: elb_status %d target %s", e.ELBStatusCode, e.Target)
	}
	waitUntil(t, "a removed", func() bool { return h.state(a.addr) == "unused/Target.NotRegistered" })
}

// TestReloadLeavesUnchangedTargetsAlone: deregistering one target disturbs
// neither the requests in flight on the others nor their pooled connections.
func TestReloadLeavesUnchangedTargetsAlone(t *testing.T) {
	t.Parallel()
	a, hits, release := slowTarget(t, "a")
	b := checkedTarget(t, "b", 200)
	h := startHealthLB(t, []string{a.addr, b.addr}, 300)
	if got := h.bodies("/", 2); !has(got, "a", "b") {
		t.Fatalf("%q", got)
	}
	slow := h.getAsync("/slow")
	waitHit(t, hits)
	h.reload([]string{a.addr}, 300) // b leaves; a stays
	close(release)
	if r := <-slow; r.err != nil || r.code != 200 || r.body != "a" {
		t.Fatalf("request in flight on the kept target: %+v", r)
	}
	if got := h.bodies("/", 3); got != "aaa" {
		t.Fatalf("after reload: %q", got)
	}
	// One connection to a carried every request, before, across and after
	// the reload: had the reload closed a's pool, the slow request's
	// connection would have been discarded and the next requests would
	// have opened another.
	if n := a.connCount(); n != 1 {
		t.Errorf("connections to the kept target: %d, want 1 (pooled connections survive the reload)", n)
	}
	if s := h.state(a.addr); s != "initial/Elb.RegistrationInProgress" {
		t.Errorf("kept target: %s", s)
	}
}

// TestConnectionErrorsInDescription: failed connections to a target are
// counted in its state description.
func TestConnectionErrorsInDescription(t *testing.T) {
	t.Parallel()
	dead := closedPort(t)
	h := startHealthLB(t, []string{dead}, 300)
	for range 3 {
		raw := rawExchange(t, h.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
		checkELBPage(t, raw, 502, "Bad Gateway", "close")
	}
	th, _ := h.node.Health().Lookup("app", netip.MustParseAddrPort(dead))
	if th.ConnectionErrors != 3 || th.Description != "Target registration is in progress (3 target connection errors)" {
		t.Errorf("after 3 refused connections: %d errors, description %q", th.ConnectionErrors, th.Description)
	}
}
