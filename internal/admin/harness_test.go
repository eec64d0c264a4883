package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/node"
)

// stack is a running node with three load balancers and the admin server in
// front of its metrics:
//   - web: idle timeout 1 s, two real HTTP targets whose behaviour depends on
//     the path (see targetHandler) in group app; /ok/canary* goes to group
//     canary (the first target alone), /fixed is a fixed-response 418;
//   - down: one target on a closed port (every request a connection error, 502;
//     unhealthy after two checks, its group fails open);
//   - empty: a target group without targets (503).
type stack struct {
	t       *testing.T
	node    *node.Node
	reg     *metrics.Registry
	admin   *httptest.Server
	lbAddr  map[string]string // load balancer name -> listener "127.0.0.1:port"
	logPath map[string]string // load balancer name -> access log file
	targets []string          // web's targets, "127.0.0.1:port"
	release chan struct{}     // closed at cleanup: /hang requests return
}

// targetHandler is the web targets' behaviour:
//
//	/ok...    200 with a small body
//	/missing  404
//	/fail     500
//	/close    the connection is closed without a response (ELB 502)
//	/hang     no response until the client leaves or the test ends (460, 504)
func targetHandler(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch {
		case strings.HasPrefix(r.URL.Path, "/ok"):
			io.WriteString(w, "hello from "+r.Host+"\n")
		case r.URL.Path == "/missing":
			http.NotFound(w, r)
		case r.URL.Path == "/fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case r.URL.Path == "/close":
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		case r.URL.Path == "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}
}

const stackConfig = `load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: 1
    access_log: {path: %[1]s}
    listeners:
      - port: %[2]d
        address: 127.0.0.1
        protocol: HTTP
        rules:
          - priority: 10
            conditions: [{path_pattern: ["/ok/canary*"]}]
            actions: [{type: forward, target_group: canary}]
          - priority: 20
            conditions: [{path_pattern: ["/fixed"]}]
            actions: [{type: fixed-response, fixed_response: {status_code: "418", message_body: "short and stout"}}]
        default_actions: [{type: forward, target_group: app}]
  - name: down
    access_log: {path: %[3]s}
    listeners:
      - {port: %[4]d, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: gone}]}
  - name: empty
    access_log: {path: %[5]s}
    listeners:
      - {port: %[6]d, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: none}]}
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /ok/health, interval_seconds: 5, healthy_threshold_count: 2, unhealthy_threshold_count: 2}
    targets:
      - {id: 127.0.0.1, port: %[7]d}
      - {id: 127.0.0.1, port: %[8]d}
  - name: canary
    protocol: HTTP
    port: 80
    health_check: {path: /ok/health, interval_seconds: 5, healthy_threshold_count: 2, unhealthy_threshold_count: 2}
    targets:
      - {id: 127.0.0.1, port: %[7]d}
  - name: gone
    protocol: HTTP
    port: 80
    health_check: {path: /ok/health, interval_seconds: 5, healthy_threshold_count: 2, unhealthy_threshold_count: 2}
    targets:
      - {id: 127.0.0.1, port: %[9]d}
  - name: none
    protocol: HTTP
    port: 80
    health_check: {path: /ok/health, interval_seconds: 5, healthy_threshold_count: 2, unhealthy_threshold_count: 2}
    targets: []
`

func startStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, reg: metrics.NewRegistry(), lbAddr: map[string]string{}, logPath: map[string]string{}, release: make(chan struct{})}
	t.Cleanup(func() { close(s.release) })
	var ports []int
	for range 2 {
		ln := listen(t)
		srv := &http.Server{Handler: targetHandler(s.release)}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		s.targets = append(s.targets, ln.Addr().String())
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	closed := listen(t)
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	lns := map[netip.AddrPort]net.Listener{}
	var lbPorts []int
	for _, name := range []string{"web", "down", "empty"} {
		ln := listen(t)
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		lns[ap] = ln
		s.lbAddr[name] = ap.String()
		s.logPath[name] = filepath.Join(dir, name+".log")
		lbPorts = append(lbPorts, int(ap.Port()))
	}
	yaml := fmt.Sprintf(stackConfig, s.logPath["web"], lbPorts[0], s.logPath["down"], lbPorts[1], s.logPath["empty"], lbPorts[2],
		ports[0], ports[1], closedPort)
	cfg, err := config.Parse("stack.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	n, err := node.New(node.Options{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		DataDir:   filepath.Join(dir, "data"),
		Listeners: lns,
		Metrics:   s.reg,
		// Health checks every 5 "seconds" of 20 ms: targets are healthy (or
		// unhealthy) after two checks, 200 ms.
		HealthSecond: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if err := n.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	s.node = n
	s.admin = httptest.NewServer(admin.Handler(admin.Options{Health: n.Health(), Metrics: s.reg, Snapshot: n.Snapshot, Version: "test"}))
	t.Cleanup(s.admin.Close)
	return s
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// url returns the URL of path on load balancer lb.
func (s *stack) url(lb, path string) string { return "http://" + s.lbAddr[lb] + path }

// raw sends bytes to load balancer lb and returns what it answers until it
// closes the connection or wait passes.
func (s *stack) raw(lb, request string, wait time.Duration) string {
	c, err := net.Dial("tcp", s.lbAddr[lb])
	if err != nil {
		s.t.Error(err)
		return ""
	}
	defer c.Close()
	io.WriteString(c, request)
	c.SetReadDeadline(time.Now().Add(wait))
	out, _ := io.ReadAll(c)
	return string(out)
}

// logEntries waits until load balancer lb's access log has n lines and returns
// them parsed.
func (s *stack) logEntries(lb string, n int) []accesslog.Entry {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, _ := os.ReadFile(s.logPath[lb])
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) == 0 {
			lines = nil
		}
		if len(lines) >= n {
			out := make([]accesslog.Entry, len(lines))
			for i, l := range lines {
				if err := accesslog.ParseLine(bytes.Clone([]byte(l)), &out[i]); err != nil {
					s.t.Fatalf("%s line %d: %v\n%s", lb, i+1, err, l)
				}
			}
			if len(lines) > n {
				s.t.Fatalf("%s access log has %d lines, want %d", lb, len(lines), n)
			}
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s access log has %d lines after 15 s, want %d", lb, len(lines), n)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// get fetches an admin path and returns its body.
func (s *stack) get(path string) string {
	s.t.Helper()
	resp, err := http.Get(s.admin.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d %v\n%s", path, resp.StatusCode, err, body)
	}
	return string(body)
}

// waitHealth waits until /metrics reports the healthy and unhealthy host counts
// of every group of want ("load balancer name/target group name": {healthy,
// unhealthy}).
func (s *stack) waitHealth(want map[string][2]float64) {
	s.t.Helper()
	ids := map[string]string{}
	for _, lb := range s.node.Snapshot().LoadBalancers {
		ids[lb.Name] = lb.ResourceID
		for _, tg := range lb.TargetGroups() {
			ids[lb.Name+"/"+tg.Name] = "targetgroup/" + tg.Name + "/" + tg.ID
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := s.scrape()
		ok := true
		var have []string
		for key, w := range want {
			lb, _, _ := strings.Cut(key, "/")
			l := map[string]string{"load_balancer": ids[lb], "target_group": ids[key]}
			h, hok := got[seriesKey("albatross_healthy_host_count", l)]
			u, uok := got[seriesKey("albatross_unhealthy_host_count", l)]
			have = append(have, fmt.Sprintf("%s %g/%g", key, h, u))
			ok = ok && hok && uok && h == w[0] && u == w[1]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("host counts (healthy/unhealthy) after 15 s: %v, want %v", have, want)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
