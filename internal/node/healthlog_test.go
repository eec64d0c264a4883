package node_test

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// healthLogTemplate is healthTemplate with a health-check log at HEALTHLOG.
var healthLogTemplate = strings.Replace(healthTemplate, "    listeners:\n", "    health_check_log: {path: HEALTHLOG}\n    listeners:\n", 1)

// TestHealthCheckLog: every check of every target is one line of ALB's
// health-check log, with the status code and ALB's reason code of its
// outcome, and nothing of it reaches the access log.
func TestHealthCheckLog(t *testing.T) {
	t.Parallel()
	ok := checkedTarget(t, "ok", 200)
	bad := checkedTarget(t, "bad", 503)
	missing := checkedTarget(t, "missing", 404)
	hang := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers: the check times out
	})
	refused := closedPort(t)
	targets := []string{ok.addr, bad.addr, missing.addr, hang.addr, refused}
	ln := listenLoopback(t, "127.0.0.1:0")
	dir := t.TempDir()
	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	tmpl := strings.Replace(healthLogTemplate, "HEALTHLOG", filepath.Join(dir, "health.log"), 1)
	yaml := renderConfig(t, tmpl, fixtureData{Port: int(port), LogPath: filepath.Join(dir, "access.log"), Targets: targets})
	n := startNode(t, ln, dir, yaml, withChecks(20*time.Millisecond))

	want := map[string]string{ // target → "status status_code reason_code"
		ok.addr:      "PASS 200 -",
		bad.addr:     "FAIL 503 TargetError",
		missing.addr: "FAIL 404 ResponseCodeMismatch",
		hang.addr:    "FAIL - TimedOut",
		refused:      "FAIL - ConnectionReset",
	}
	elb := n.Snapshot().LoadBalancers[0].ResourceID
	var seen map[string]int
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dir, "health.log"))
			t.Logf("health.log:\n%s\nseen %v", data, seen)
		}
	}()
	waitUntil(t, "two checks of every target in the health-check log", func() bool {
		seen = map[string]int{}
		data, _ := os.ReadFile(filepath.Join(dir, "health.log"))
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			var e accesslog.HealthEntry
			if err := accesslog.ParseHealthLine(sc.Bytes(), &e); err != nil {
				t.Fatalf("health-check log line %q: %v", sc.Text(), err)
			}
			line := string(accesslog.AppendHealthLine(nil, &e))
			if line != sc.Text()+"\n" {
				t.Fatalf("line %q re-encodes as %q", sc.Text(), line)
			}
			fields := strings.Fields(sc.Text())
			target := e.Target.String()
			if got := strings.Join(fields[5:8], " "); got != want[target] {
				t.Fatalf("check of %s logged %q, want %q (line %q)", target, got, want[target], sc.Text())
			}
			if e.Type != "http" || e.TargetGroup != "app" || e.ELB != elb || e.Time.IsZero() || e.Latency <= 0 {
				t.Fatalf("line %q: type %q, target group %q, elb %q (want %s), time %v, latency %v", sc.Text(), e.Type, e.TargetGroup, e.ELB, elb, e.Time, e.Latency)
			}
			if time.Since(e.Time) > time.Minute || e.Time.After(time.Now()) {
				t.Fatalf("line %q: check time %v is not now", sc.Text(), e.Time)
			}
			seen[target]++
		}
		for _, tg := range targets {
			if seen[tg] < 2 {
				return false
			}
		}
		return true
	})
	if data, _ := os.ReadFile(filepath.Join(dir, "access.log")); len(data) != 0 {
		t.Errorf("health checks reached the access log:\n%s", data)
	}
}
