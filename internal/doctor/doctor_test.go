package doctor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// probeTimeout keeps the tests short: long enough to see a 3 s keep-alive close.
const probeTimeout = 5 * time.Second

// startGoTarget starts a net/http target whose idle keep-alive timeout is idle
// (0: it never closes idle connections). /slow answers after slow.
func startGoTarget(t *testing.T, idle, slow time.Duration, keepAlive bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{IdleTimeout: idle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-time.After(slow):
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	})}
	srv.SetKeepAlivesEnabled(keepAlive)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// startRawTarget starts a target that keeps an idle connection for idle, gives a
// request head started on a connection headers to complete (from its first
// byte), and ignores Connection: close.
func startRawTarget(t *testing.T, idle, headers time.Duration) string {
	t.Helper()
	return testutil.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(idle))
			if _, err := br.Peek(1); err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(headers))
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=2\r\n\r\nok")
		}
	})
}

func run(t *testing.T, paths []*Path, opts Options) *Report {
	t.Helper()
	opts.ProbeTimeout = probeTimeout
	r := Run(context.Background(), paths, opts)
	var text, js bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	checkJSONShape(t, js.Bytes())
	return r
}

// checkJSONShape checks the contract: {"paths": [...], "findings": [{"code",
// "severity", "target", "evidence", "fix"}]}.
func checkJSONShape(t *testing.T, data []byte) {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, data)
	}
	var paths []map[string]any
	var findings []map[string]any
	if err := json.Unmarshal(doc["paths"], &paths); err != nil || len(paths) == 0 {
		t.Fatalf("\"paths\" is not a non-empty list: %v", err)
	}
	if err := json.Unmarshal(doc["findings"], &findings); err != nil {
		t.Fatalf("\"findings\" is not a list: %v", err)
	}
	for _, f := range findings {
		for _, k := range []string{"code", "severity", "target", "evidence", "fix"} {
			if _, ok := f[k]; !ok {
				t.Errorf("finding %v lacks %q", f["code"], k)
			}
		}
		if _, ok := f["evidence"].(map[string]any); !ok {
			t.Errorf("finding %v: evidence is not an object", f["code"])
		}
	}
}

// codes lists the findings' codes with their severities, per target.
func codes(r *Report, target string) map[string]string {
	m := map[string]string{}
	for _, f := range r.Findings {
		if f.Target == target {
			m[f.Code] = f.Severity
		}
	}
	return m
}

func within(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: not measured, want %.1fs ± 0.5", what, want)
	} else if math.Abs(*got-want) > 0.5 {
		t.Errorf("%s: %.3fs, want %.1fs ± 0.5", what, *got, want)
	}
}

// Targets with keep-alive timeouts of 1 s, 3 s and none, behind a 10 s idle
// timeout: the measured values, and the finding on the two that close first.
func TestMeasuresTargetKeepAlive(t *testing.T) {
	t.Parallel()
	one := startGoTarget(t, time.Second, 0, true)
	three := startGoTarget(t, 3*time.Second, 0, true)
	none := startGoTarget(t, 0, 0, true)
	paths, err := PathsFromTargets([]string{one, three, none}, 10*time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, paths, Options{})
	byTarget := map[string]*Probe{}
	for _, p := range r.Paths {
		byTarget[p.Target] = p.Probe
	}
	within(t, "1 s target", byTarget[one].IdleCloseSeconds, 1)
	within(t, "3 s target", byTarget[three].IdleCloseSeconds, 3)
	if p := byTarget[none]; !p.KeepAlive || p.IdleCloseSeconds != nil {
		t.Errorf("target without a timeout: keep-alive %v, closed after %v; want kept past the probe", p.KeepAlive, p.IdleCloseSeconds)
	}
	for _, target := range []string{one, three} {
		if got := codes(r, target)[CodeKeepAliveShorterThanIdle]; got != SeverityWarning {
			t.Errorf("%s: %s is %q, want a warning", target, CodeKeepAliveShorterThanIdle, got)
		}
		if p := byTarget[target]; !p.HonoursConnectionClose || len(p.Responses) != 1 || p.Responses[0].Status != 200 {
			t.Errorf("%s: probe %+v, want Connection: close honoured and / answered 200", target, p)
		}
	}
	if got := codes(r, none); len(got) != 0 {
		t.Errorf("target without a timeout: findings %v, want none", got)
	}
	if s := r.ExitStatus(); s != 1 {
		t.Errorf("exit status %d, want 1 (warnings)", s)
	}
}

// A target that closes after every response.
func TestTargetWithoutKeepAlive(t *testing.T) {
	t.Parallel()
	addr := startGoTarget(t, 0, 0, false)
	paths, _ := PathsFromTargets([]string{addr}, 10*time.Second, "")
	r := run(t, paths, Options{})
	if got := codes(r, addr); got[CodeNoKeepAlive] != SeverityInfo || len(got) != 1 {
		t.Errorf("findings %v, want only %s (info)", got, CodeNoKeepAlive)
	}
	if s := r.ExitStatus(); s != 0 {
		t.Errorf("exit status %d, want 0 (no warning)", s)
	}
}

// A target slower than both the client timeout and the idle timeout, with a
// client timeout shorter than the idle timeout.
func TestSlowTargetAndShortClientTimeout(t *testing.T) {
	t.Parallel()
	addr := startGoTarget(t, 30*time.Second, 1300*time.Millisecond, true)
	paths, _ := PathsFromTargets([]string{addr}, time.Second, "/slow")
	r := run(t, paths, Options{ClientTimeout: 500 * time.Millisecond})
	got := codes(r, addr)
	for _, code := range []string{CodeClientTimeoutShorter, CodeSlowerThanClientTimeout, CodeSlowerThanIdleTimeout} {
		if got[code] != SeverityWarning {
			t.Errorf("%s is %q, want a warning (findings %v)", code, got[code], got)
		}
	}
	resp := r.Paths[0].Probe.Responses
	if len(resp) != 1 || resp[0].Path != "/slow" || math.Abs(resp[0].Seconds-1.3) > 0.5 {
		t.Errorf("responses %+v, want /slow in about 1.3 s", resp)
	}
	if s := r.ExitStatus(); s != 1 {
		t.Errorf("exit status %d, want 1", s)
	}
}

// A target whose headers timeout is what closes its idle connections, and that
// ignores Connection: close; it announces Keep-Alive: timeout=2.
func TestHeadersTimeoutOrderingAndConnectionClose(t *testing.T) {
	t.Parallel()
	addr := startRawTarget(t, 2*time.Second, 1800*time.Millisecond)
	paths, _ := PathsFromTargets([]string{addr}, 10*time.Second, "")
	r := run(t, paths, Options{})
	p := r.Paths[0].Probe
	within(t, "idle close", p.IdleCloseSeconds, 2)
	within(t, "headers timeout", p.HeadersTimeoutSeconds, 1.8)
	if p.KeepAliveHeaderSeconds == nil || *p.KeepAliveHeaderSeconds != 2 || p.HonoursConnectionClose {
		t.Errorf("probe %+v: want Keep-Alive timeout=2 read and Connection: close found ignored", p)
	}
	got := codes(r, addr)
	if got[CodeHeadersTimeoutNotAboveKA] != SeverityWarning || got[CodeIgnoresConnectionClose] != SeverityInfo {
		t.Errorf("findings %v, want %s (warning) and %s (info)", got, CodeHeadersTimeoutNotAboveKA, CodeIgnoresConnectionClose)
	}
	var failed []string
	for _, c := range r.Paths[0].Checks {
		if !c.OK {
			failed = append(failed, c.Rule)
		}
	}
	if strings.Join(failed, "|") != "load balancer's target-side idle < target keep-alive|target keep-alive < target request headers timeout" {
		t.Errorf("failed ordering checks %q", failed)
	}
	// The Keep-Alive header protects Albatross from the first request.
	for _, f := range r.Findings {
		if f.Code == CodeKeepAliveShorterThanIdle && f.Evidence["albatross_protected_from_first_request"] != true {
			t.Errorf("evidence %v: a target announcing timeout=2 should protect Albatross from the first request", f.Evidence)
		}
	}
}

// A target that cannot be reached makes the run exit 2.
func TestUnreachableTarget(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	paths, _ := PathsFromTargets([]string{dead}, 10*time.Second, "")
	r := run(t, paths, Options{})
	if got := codes(r, dead); got[CodeUnreachable] != SeverityError {
		t.Errorf("findings %v, want %s", got, CodeUnreachable)
	}
	if s := r.ExitStatus(); s != 2 {
		t.Errorf("exit status %d, want 2", s)
	}
}

// From a configuration: every path, its attributes, and a target protected by
// target_keep_alive.idle_timeout_seconds (an info finding, exit status 0).
func TestPathsFromConfig(t *testing.T) {
	t.Parallel()
	three := startGoTarget(t, 3*time.Second, 0, true)
	host, port, _ := net.SplitHostPort(three)
	yaml := `load_balancers:
  - name: web
    attributes: {idle_timeout.timeout_seconds: 10}
    listeners:
      - port: 8080
        address: 127.0.0.1
        protocol: HTTP
        default_actions: [{type: forward, target_group: app}]
        rules:
          - priority: 10
            conditions: [{path_pattern: ["/api/*"]}]
            actions: [{type: forward, target_group: app}]
          - priority: 20
            conditions: [{path_pattern: ["/static/*"]}]
            actions: [{type: fixed-response, fixed_response: {status_code: "404"}}]
          - priority: 30
            conditions: [{path_pattern: ["/v2/*"]}]
            actions: [{type: forward, forward: {target_groups: [{name: app, weight: 1}, {name: api, weight: 1}]}}]
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /health}
    attributes: {target_keep_alive.idle_timeout_seconds: 2}
    targets: [{id: ` + host + `, port: ` + port + `}]
  - name: api
    protocol: HTTP
    port: 80
    health_check: {path: /health}
    attributes: {target_keep_alive.idle_timeout_seconds: 1}
    targets: [{id: ` + host + `, port: ` + port + `}]
`
	cfg, err := config.Parse("doctor.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	paths, err := PathsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The group a rule and the default action both forward to counts once;
	// the group only a weighted rule forwards to is there too.
	if len(paths) != 2 || paths[1].TargetGroup != "api" || paths[1].TargetIdleLimitSeconds != 1 {
		t.Fatalf("%d paths (%+v), want app's and api's", len(paths), paths)
	}
	p := paths[0]
	if p.LoadBalancer != "web" || p.Listener != "127.0.0.1:8080" || p.TargetGroup != "app" || p.Target != three ||
		p.IdleTimeoutSeconds != 10 || p.TargetIdleLimitSeconds != 2 || p.HealthCheckPath != "/health" {
		t.Errorf("path %+v", p)
	}
	r := run(t, paths, Options{ClientTimeout: 30 * time.Second})
	within(t, "3 s target", r.Paths[0].Probe.IdleCloseSeconds, 3)
	if got := codes(r, three); got[CodeKeepAliveShorterThanIdle] != SeverityInfo || len(got) != 1 || len(r.Findings) != 2 {
		t.Errorf("findings %v, want only %s as info (Albatross protected by configuration)", got, CodeKeepAliveShorterThanIdle)
	}
	if r.Paths[0].Probe != r.Paths[1].Probe {
		t.Error("the same target was probed twice")
	}
	for _, p := range r.Paths {
		for _, c := range p.Checks {
			if !c.OK || c.Skipped {
				t.Errorf("%s: check %q: %s; want it passed", p.TargetGroup, c.Rule, c.Detail)
			}
		}
	}
	if s := r.ExitStatus(); s != 0 {
		t.Errorf("exit status %d, want 0", s)
	}
}

// Cancelling the run (Ctrl-C) ends every probe's wait instead of holding it for
// the probe timeout.
func TestCancelEndsTheProbes(t *testing.T) {
	t.Parallel()
	none := startGoTarget(t, 0, 0, true)
	paths, _ := PathsFromTargets([]string{none}, 10*time.Second, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Report)
	go func() { done <- Run(ctx, paths, Options{ProbeTimeout: time.Hour}) }()
	cancel()
	select {
	case r := <-done:
		if p := r.Paths[0].Probe; p.IdleCloseSeconds != nil {
			t.Errorf("a cancelled probe reported a close after %v s", *p.IdleCloseSeconds)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the probes were still waiting 30 s after the run was cancelled (probe timeout 1 h)")
	}
}
