package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// doctorRun runs `albatross doctor args...` and returns stdout, stderr and the
// exit status.
func doctorRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"doctor"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), status
}

// keepAliveTarget is a net/http target closing idle connections after idle.
func keepAliveTarget(t *testing.T, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{IdleTimeout: idle, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// doctor --target with JSON output: the contract's shape, the finding, exit 1,
// and progress on stderr.
func TestDoctorTargetJSON(t *testing.T) {
	addr := keepAliveTarget(t, time.Second)
	out, errOut, status := doctorRun(t, "--target", addr, "--idle-timeout", "10s", "--probe-timeout", "4s", "--format", "json")
	if status != 1 {
		t.Errorf("exit status %d, want 1\nstderr: %s", status, errOut)
	}
	var doc struct {
		Paths []struct {
			Target string `json:"target"`
			Probe  struct {
				IdleCloseSeconds *float64 `json:"idle_close_seconds"`
			} `json:"probe"`
		} `json:"paths"`
		Findings []struct {
			Code     string         `json:"code"`
			Severity string         `json:"severity"`
			Target   string         `json:"target"`
			Evidence map[string]any `json:"evidence"`
			Fix      string         `json:"fix"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if len(doc.Paths) != 1 || doc.Paths[0].Target != addr || doc.Paths[0].Probe.IdleCloseSeconds == nil {
		t.Fatalf("paths %+v", doc.Paths)
	}
	if len(doc.Findings) != 1 || doc.Findings[0].Code != "target-keepalive-shorter-than-idle-timeout" ||
		doc.Findings[0].Severity != "warning" || doc.Findings[0].Target != addr ||
		doc.Findings[0].Evidence["target_keepalive_seconds"] == nil || !strings.Contains(doc.Findings[0].Fix, "keepalive_timeout 15s") {
		t.Errorf("findings %+v", doc.Findings)
	}
	if !strings.Contains(errOut, "closes idle connections after 1.0s") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
}

// doctor --config in text: a table and exit 0 when the path is in order.
func TestDoctorConfigText(t *testing.T) {
	addr := keepAliveTarget(t, 0) // never closes idle connections
	host, port, _ := net.SplitHostPort(addr)
	path := filepath.Join(t.TempDir(), "albatross.yaml")
	os.WriteFile(path, []byte(`load_balancers:
  - name: web
    attributes: {idle_timeout.timeout_seconds: 2}
    listeners:
      - {port: 8080, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: app}]}
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    targets: [{id: `+host+`, port: `+port+`}]
`), 0o644)
	out, errOut, status := doctorRun(t, "--config", path, "--client-timeout", "30s", "--probe-timeout", "3s")
	if status != 0 {
		t.Errorf("exit status %d, want 0\n%s\n%s", status, out, errOut)
	}
	for _, want := range []string{"PATH", "web 127.0.0.1:8080 → app → " + addr, "> 3s (kept)", "No findings"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

// Bad usage and an unreachable target exit 2.
func TestDoctorExitTwo(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{
		{},
		{"--target", dead, "--format", "yaml"},
		{"--target", "no-port"},
		{"--config", "/nonexistent/albatross.yaml"},
		{"--target", dead, "--probe-timeout", "2s"},
	} {
		if _, errOut, status := doctorRun(t, args...); status != 2 || errOut == "" {
			t.Errorf("doctor %q: exit status %d (stderr %q), want 2 with a message", args, status, errOut)
		}
	}
}
