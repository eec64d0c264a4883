package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestUsageOfCountsTimeAndSwitches checks usageOf on a real process tree: a
// shell whose child burns CPU and then sleeps. Its user time grows while
// the child runs, and its threads' switches grow with each sleep.
func TestUsageOfCountsTimeAndSwitches(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	// The child spins for about 0.3 s of CPU, then sleeps a second at a time.
	cmd := exec.Command("sh", "-c", `sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; while :; do sleep 1; done'`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	start := usageOf(cmd.Process.Pid)
	deadline := time.Now().Add(30 * time.Second)
	for {
		u := usageOf(cmd.Process.Pid).minus(start)
		if u.user > 0 && u.switches > 0 {
			if u.sys < 0 {
				t.Fatalf("system time went backwards: %+v", u)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the child's usage is %+v: want user time and switches counted", u)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestH2loadRateCapsTheOfferedLoad runs the h2-rate scenario's h2load against
// a real HTTP/2 server for a second at 800 requests per second. Uncapped,
// h2load sends those requests in a few milliseconds; capped, it cannot send
// them faster than the rate (a slow machine only makes the run slower), and
// the run stops at the round's duration.
func TestH2loadRateCapsTheOfferedLoad(t *testing.T) {
	for _, tool := range []string{"h2load", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian: nghttp2-client, util-linux): %v", tool, err)
		}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	const rate = 800
	r, err := runH2load(srv.URL+"/", time.Second, t.TempDir(), rate, maxH2Streams)
	if err != nil {
		t.Fatal(err)
	}
	// The run's size is the rate times what is left of the second.
	if r.total < rate/2 || r.total > rate || r.errors != 0 {
		t.Fatalf("h2load served %d requests with %d errors, want %d-%d and none", r.total, r.errors, rate/2, rate)
	}
	if r.rps > 1.5*rate {
		t.Errorf("h2load sent %.0f requests per second, want at most about %d", r.rps, rate)
	}
}

// TestH2RateMustSpreadOverTheConnections checks that a rate h2load cannot
// spread evenly over its 8 connections is refused before anything starts.
func TestH2RateMustSpreadOverTheConnections(t *testing.T) {
	for _, rate := range []string{"0", "-8", "100"} {
		err := run([]string{"-scenarios", "h2-rate", "-h2-rate", rate, "-proxies", "haproxy"})
		if err == nil || !strings.Contains(err.Error(), "-h2-rate "+rate+": want a positive multiple of 8") {
			t.Errorf("-h2-rate %s: %v, want it refused", rate, err)
		}
	}
}

// TestH2StreamsWithinWhatEveryProxyAllows checks that a stream count some
// proxy would refuse is refused before anything starts, for either HTTP/2
// scenario.
func TestH2StreamsWithinWhatEveryProxyAllows(t *testing.T) {
	for _, sc := range []string{"h2", "h2-rate"} {
		for _, n := range []string{"0", "-1", "101"} {
			err := run([]string{"-scenarios", sc, "-h2-streams", n, "-proxies", "haproxy"})
			if err == nil || !strings.Contains(err.Error(), "-h2-streams "+n+": want 1 to 100") {
				t.Errorf("%s -h2-streams %s: %v, want it refused", sc, n, err)
			}
		}
	}
}

func TestEveryProxyHasPortsOfItsOwn(t *testing.T) {
	o := &options{basePort: 9110}
	seen := map[int]string{}
	for _, name := range proxyNames {
		p := &proxy{name: name, o: o}
		if p.port() < o.basePort {
			t.Errorf("%s: port %d below the base port %d (not in the port list)", name, p.port(), o.basePort)
		}
		for _, port := range []int{p.port(), p.plainPort()} {
			if other, ok := seen[port]; ok {
				t.Errorf("%s and %s both use port %d", name, other, port)
			}
			seen[port] = name
		}
	}
}

// TestReportSplitsCPUTime: below each load scenario's table, the report
// gives every proxy's user and system time and thread switches per request,
// round by round, in the order the proxies were measured.
func TestReportSplitsCPUTime(t *testing.T) {
	results := map[string]map[string][]result{"h2": {
		"haproxy":   {{rps: 100, cpuUS: 20, userUS: 9.5, sysUS: 10.5, switches: 0.2}, {rps: 100, cpuUS: 22, userUS: 10.25, sysUS: 11.75, switches: 0.125}},
		"albatross": {{rps: 100, cpuUS: 30, userUS: 17, sysUS: 13, switches: 0.05}, {rps: 100, cpuUS: 31, userUS: 18, sysUS: 13, switches: 0.0625}},
	}}
	var b strings.Builder
	report(&b, results, &options{scenarios: []string{"h2"}, proxies: []string{"haproxy", "albatross"}, rounds: 2, duration: time.Second, h2Streams: 100})
	out := b.String()
	for _, want := range []string{
		"### h2: HTTP/2 over TLS, 8 connections × 100 concurrent streams (h2load)",
		"| proxy | user µs/req rounds | system µs/req rounds | thread switches per request, rounds |",
		"| haproxy | 9.5, 10.2 | 10.5, 11.8 | 0.200, 0.125 |\n| albatross | 17.0, 18.0 | 13.0, 13.0 | 0.050, 0.062 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
