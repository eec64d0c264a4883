package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// options are the run's flags.
type options struct {
	albatross string
	// albatrossB is a second build for an A/B in the same run (proxy
	// albatross-b).
	albatrossB string
	proxies    []string
	scenarios  []string
	rounds     int
	duration   time.Duration
	idleConns  int
	backend    int
	basePort   int
	keep       bool
	// h2Rate is the requests per second h2load offers in the h2-rate
	// scenario, spread over its 8 connections.
	h2Rate int
	// h2Streams is how many concurrent streams each of h2load's 8
	// connections keeps open in the h2 scenarios.
	h2Streams int
}

// maxH2Streams is the most concurrent streams per connection every proxy
// allows by default: HAProxy's tune.h2.max-concurrent-streams is 100.
const maxH2Streams = 100

// h2Scenario reports whether a scenario runs h2load, and so has a stream
// count (-h2-streams) in its title.
func h2Scenario(sc string) bool { return sc == "h2" || sc == "h2-rate" }

// scenarioTitles names each scenario in the report, in order.
var scenarioTitles = map[string]string{
	"tls-ka":     "HTTPS keep-alive, HTTP/1.1, 64 B responses, 64 connections (wrk)",
	"tls-new":    "new TLS connection per request, full handshake, 16 workers",
	"tls-resume": "new TLS connection per request, session resumed (TLS 1.3 ticket), 16 workers",
	"h2":         "HTTP/2 over TLS, 8 connections × %d concurrent streams (h2load)",
	"h2-rate":    "HTTP/2 over TLS, 8 connections × %d concurrent streams (h2load), offered load fixed by -h2-rate",
	"tls-idle":   "idle kept-alive TLS client connections",
	"idle":       "idle kept-alive plain HTTP client connections",
}

func run(args []string) error {
	fs := flag.NewFlagSet("tlsbench", flag.ContinueOnError)
	var o options
	var proxies, scenarios string
	fs.StringVar(&o.albatross, "albatross", "", "albatross binary (leave empty to measure the anchors only)")
	fs.StringVar(&o.albatrossB, "albatross-b", "", "a second albatross binary, measured as proxy albatross-b (an A/B in one run)")
	fs.StringVar(&proxies, "proxies", "haproxy,nginx,albatross", "proxies to measure, in order: haproxy, nginx, albatross, albatross-b (the -albatross-b build), albatross-2core (the -albatross build with GOMAXPROCS=2 on CPUs 0-1, beside the load generator), haproxy-2core (HAProxy with nbthread 2 on CPUs 0-1, the same comparison for an anchor)")
	fs.StringVar(&scenarios, "scenarios", "tls-ka,tls-new,tls-resume,h2,tls-idle", "scenarios: tls-ka, tls-new, tls-resume, h2, h2-rate, tls-idle, idle")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each proxy runs every scenario once per round, interleaved")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "length of each load run")
	fs.IntVar(&o.idleConns, "idle-conns", 5000, "connections held by the idle scenarios")
	fs.IntVar(&o.backend, "backend-port", 9011, "backend port")
	fs.IntVar(&o.basePort, "base-port", 9110, "first proxy port: albatross on it, haproxy +1, nginx +2; plain HTTP listeners +10")
	fs.IntVar(&o.h2Rate, "h2-rate", 20000, "requests per second offered in the h2-rate scenario (a multiple of 8)")
	fs.IntVar(&o.h2Streams, "h2-streams", maxH2Streams, fmt.Sprintf("concurrent streams on each of the 8 HTTP/2 connections in the h2 scenarios (1-%d)", maxH2Streams))
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configurations, outputs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.proxies = strings.Split(proxies, ",")
	o.scenarios = strings.Split(scenarios, ",")
	for _, s := range o.scenarios {
		if _, ok := scenarioTitles[s]; !ok {
			return fmt.Errorf("unknown scenario %q", s)
		}
		if s == "h2-rate" && (o.h2Rate <= 0 || o.h2Rate%8 != 0) {
			// h2load's --rps is per connection, of which there are 8.
			return fmt.Errorf("-h2-rate %d: want a positive multiple of 8 requests per second", o.h2Rate)
		}
		if h2Scenario(s) && (o.h2Streams < 1 || o.h2Streams > maxH2Streams) {
			return fmt.Errorf("-h2-streams %d: want 1 to %d concurrent streams per connection", o.h2Streams, maxH2Streams)
		}
	}
	for _, p := range o.proxies {
		if !slices.Contains(proxyNames, p) {
			return fmt.Errorf("unknown proxy %q (%s)", p, strings.Join(proxyNames, ", "))
		}
		switch p {
		case "albatross", "albatross-2core":
			if o.albatross == "" {
				return fmt.Errorf("proxy %s needs -albatross BINARY", p)
			}
		case "albatross-b":
			if o.albatrossB == "" {
				return errors.New("proxy albatross-b needs -albatross-b BINARY")
			}
		}
	}
	for _, tool := range []string{"taskset", "haproxy", "nginx", "wrk", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt-get install haproxy nginx wrk nghttp2-client util-linux", tool)
		}
	}

	tmp, err := os.MkdirTemp("", "tlsbench.")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintln(os.Stderr, "keeping", tmp)
	}
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"bench.example", "127.0.0.1"}, 24*time.Hour)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	for name, b := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "haproxy.pem": append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	backend := pinned("0", self, "backend", "-addr", fmt.Sprintf("127.0.0.1:%d", o.backend))
	backend.Env = append(os.Environ(), "GOMAXPROCS=1")
	backend.Stderr = os.Stderr
	if err := backend.Start(); err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer func() { backend.Process.Kill(); backend.Wait() }()
	if err := waitPort(o.backend, 10*time.Second); err != nil {
		return fmt.Errorf("backend: %w", err)
	}

	results := map[string]map[string][]result{} // scenario → proxy → rounds
	for rnd := 1; rnd <= o.rounds; rnd++ {
		for _, name := range o.proxies {
			px := &proxy{name: name, tmp: tmp, o: &o}
			if err := px.start(); err != nil {
				return err
			}
			for i, sc := range o.scenarios {
				if i > 0 && (sc == "idle" || sc == "tls-idle") {
					// Memory per idle connection is measured on a fresh
					// process: one that has served load has freed memory
					// to reuse, and another idle scenario's connections
					// would still be closing.
					px.stop()
					if err := px.start(); err != nil {
						return err
					}
				}
				r, err := measure(px, sc, &o, self)
				if err != nil {
					px.stop()
					return fmt.Errorf("round %d, %s, %s: %w", rnd, sc, name, err)
				}
				if results[sc] == nil {
					results[sc] = map[string][]result{}
				}
				results[sc][name] = append(results[sc][name], r)
				fmt.Fprintf(os.Stderr, "round %d %-10s %-9s %s\n", rnd, sc, name, r)
			}
			px.stop()
		}
	}
	report(os.Stdout, results, &o)
	return nil
}

// result is one scenario's measurement of one proxy in one round.
type result struct {
	rps, mibps, p50, p99 float64
	total, errors        int
	cpuUS                float64 // proxy CPU µs per request
	userUS, sysUS        float64 // the same, split into user and system time
	switches             float64 // proxy thread switches (sleeps and preemptions) per request
	resumed              int     // handshake scenarios: sessions that resumed
	rssBefore, rssAfter  float64 // idle scenarios, KiB
	kibPerConn           float64
	note                 string
}

func (r result) String() string {
	if r.rssAfter > 0 {
		return fmt.Sprintf("rss_before_mib=%.1f rss_after_mib=%.1f kib_per_conn=%.2f %s", r.rssBefore/1024, r.rssAfter/1024, r.kibPerConn, r.note)
	}
	return fmt.Sprintf("rps=%.0f p50=%.2fms p99=%.2fms total=%d errors=%d resumed=%d cpu_us_per_req=%.1f user_us_per_req=%.1f sys_us_per_req=%.1f switches_per_req=%.3f",
		r.rps, r.p50, r.p99, r.total, r.errors, r.resumed, r.cpuUS, r.userUS, r.sysUS, r.switches)
}

// proxy is one proxy process under test.
type proxy struct {
	name string
	tmp  string
	o    *options
	cmd  *exec.Cmd
}

// proxyNames are the proxies tlsbench knows, in the order of their ports.
var proxyNames = []string{"albatross", "haproxy", "nginx", "albatross-b", "albatross-2core", "haproxy-2core"}

// port is the proxy's HTTPS port; plainPort its HTTP one.
func (p *proxy) port() int { return p.o.basePort + slices.Index(proxyNames, p.name) }

// twoCores is whether the proxy runs on CPUs 0-1 with two threads (or Ps),
// beside the load generator, rather than alone on CPU 1.
func (p *proxy) twoCores() bool { return strings.HasSuffix(p.name, "-2core") }

func (p *proxy) plainPort() int { return p.port() + 10 }

// start writes the proxy's configuration, starts it on CPU 1 and checks that
// it proxies over both listeners with the expected TLS parameters.
func (p *proxy) start() error {
	t, be, port, plain := p.tmp, p.o.backend, p.port(), p.plainPort()
	var argv []string
	switch p.name {
	case "haproxy", "haproxy-2core":
		cfg := filepath.Join(t, p.name+".cfg")
		threads := 1
		if p.twoCores() {
			threads = 2
		}
		// As compare.py's, plus the TLS frontend.
		if err := os.WriteFile(cfg, fmt.Appendf(nil, `global
  nbthread %d
  maxconn 9000
  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
  ssl-default-bind-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:%d
  bind 127.0.0.1:%d ssl crt %s/haproxy.pem alpn h2,http/1.1 curves X25519:P-256
  default_backend be
backend be
  http-reuse safe
  server s1 127.0.0.1:%d
`, threads, plain, port, t, be), 0o644); err != nil {
			return err
		}
		argv = []string{"haproxy", "-db", "-f", cfg}
	case "nginx":
		cfg := filepath.Join(t, "nginx.conf")
		os.MkdirAll(filepath.Join(t, "nginx"), 0o755)
		if err := os.WriteFile(cfg, fmt.Appendf(nil, `worker_processes 1;
daemon off;
pid %[1]s/nginx/nginx.pid;
error_log %[1]s/nginx/error.log;
events { worker_connections 16000; }
http {
  access_log off;
  client_body_temp_path %[1]s/nginx/body;
  proxy_temp_path %[1]s/nginx/proxy;
  ssl_protocols TLSv1.3;
  ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
  ssl_ecdh_curve X25519:prime256v1;
  ssl_session_cache shared:SSL:10m;
  upstream be { server 127.0.0.1:%[2]d; keepalive 128; keepalive_timeout 60s; }
  server {
    listen 127.0.0.1:%[3]d;
    listen 127.0.0.1:%[4]d ssl http2;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, t, be, plain, port), 0o644); err != nil {
			return err
		}
		argv = []string{"nginx", "-c", cfg, "-p", filepath.Join(t, "nginx")}
	case "albatross", "albatross-b", "albatross-2core":
		cfg := filepath.Join(t, p.name+".yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, `load_balancers:
  - name: bench
    listeners:
      - port: %[2]d
        address: 127.0.0.1
        protocol: HTTPS
        ssl_policy: ELBSecurityPolicy-TLS13-1-3-2021-06
        certificates: [{cert: %[1]s/cert.pem, key: %[1]s/key.pem}]
        default_actions: [{type: forward, target_group: backend}]
      - port: %[3]d
        address: 127.0.0.1
        protocol: HTTP
        default_actions: [{type: forward, target_group: backend}]
target_groups:
  - name: backend
    protocol: HTTP
    port: %[4]d
    targets: [{id: 127.0.0.1, port: %[4]d}]
`, t, port, plain, be), 0o644); err != nil {
			return err
		}
		data := filepath.Join(t, p.name+"-data")
		os.RemoveAll(data)
		bin := p.o.albatross
		if p.name == "albatross-b" {
			bin = p.o.albatrossB
		}
		argv = []string{bin, "serve", "--config", cfg, "--data-dir", data, "--admin-addr", ""}
	}
	cpus, procs := "1", "GOMAXPROCS=1"
	if p.twoCores() {
		cpus, procs = "0,1", "GOMAXPROCS=2"
	}
	p.cmd = pinned(cpus, argv...)
	p.cmd.Env = append(os.Environ(), procs)
	out, err := os.Create(filepath.Join(t, p.name+".out"))
	if err != nil {
		return err
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	for _, port := range []int{port, plain} {
		if err := waitPort(port, 15*time.Second); err != nil {
			p.stop()
			return fmt.Errorf("%s did not listen on %d (output in %s.out): %w", p.name, port, p.name, err)
		}
	}
	if err := p.check(); err != nil {
		p.stop()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// check makes one request over TLS and one over plain HTTP and insists on a
// 200, TLS 1.3, TLS_AES_128_GCM_SHA256 and X25519.
func (p *proxy) check() error {
	cfg := clientTLS(nil)
	cfg.ServerName = "bench.example"
	c, err := idleOne(fmt.Sprintf("127.0.0.1:%d", p.port()), true, cfg)
	if err != nil {
		return fmt.Errorf("HTTPS request: %w", err)
	}
	cs := c.(*tls.Conn).ConnectionState()
	c.Close()
	if cs.Version != tls.VersionTLS13 || cs.CipherSuite != tls.TLS_AES_128_GCM_SHA256 || cs.CurveID != tls.X25519 {
		return fmt.Errorf("negotiated %s %s %s, want TLS 1.3 TLS_AES_128_GCM_SHA256 X25519",
			tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)
	}
	if cert := cs.PeerCertificates[0]; cert.PublicKeyAlgorithm.String() != "ECDSA" {
		return fmt.Errorf("certificate key %s, want ECDSA", cert.PublicKeyAlgorithm)
	}
	c, err = idleOne(fmt.Sprintf("127.0.0.1:%d", p.plainPort()), false, nil)
	if err != nil {
		return fmt.Errorf("HTTP request: %w", err)
	}
	c.Close()
	return nil
}

// stop ends the proxy (SIGTERM, then SIGKILL after 5 s).
func (p *proxy) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pids := tree(p.cmd.Process.Pid)
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		for _, pid := range slices.Backward(pids) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		<-done
	}
	// nginx's worker may outlive its master for a moment.
	for _, pid := range pids {
		for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.cmd = nil
}

// measure runs one scenario against a started proxy.
func measure(p *proxy, sc string, o *options, self string) (result, error) {
	pid := p.cmd.Process.Pid
	url := fmt.Sprintf("https://127.0.0.1:%d/", p.port())
	addr := fmt.Sprintf("127.0.0.1:%d", p.port())
	secs := strconv.Itoa(int(o.duration.Seconds()))
	var r result
	var err error
	before := usageOf(pid)
	switch sc {
	case "tls-ka":
		r, err = runWrk(url, secs)
	case "tls-new", "tls-resume":
		r, err = runHandshakes(self, addr, o.duration, sc == "tls-resume")
	case "h2":
		r, err = runH2load(url, o.duration, p.tmp, 0, o.h2Streams)
	case "h2-rate":
		r, err = runH2load(url, o.duration, p.tmp, o.h2Rate, o.h2Streams)
	case "tls-idle", "idle":
		if sc == "idle" {
			addr = fmt.Sprintf("127.0.0.1:%d", p.plainPort())
		}
		return runIdle(self, addr, sc == "tls-idle", o.idleConns, pid, p.tmp)
	}
	if err != nil {
		return r, err
	}
	used := usageOf(pid).minus(before)
	perReq := func(ticks int64) float64 {
		return float64(ticks) / float64(clockTicks) * 1e6 / float64(max(1, r.total))
	}
	r.userUS, r.sysUS = perReq(used.user), perReq(used.sys)
	r.cpuUS = perReq(used.user + used.sys)
	r.switches = float64(used.switches) / float64(max(1, r.total))
	return r, nil
}

// runWrk runs wrk over HTTPS, one thread, 64 connections.
func runWrk(url, secs string) (result, error) {
	out, err := pinned("0", "wrk", "-t1", "-c64", "-d"+secs+"s", "--latency", url).CombinedOutput()
	s := string(out)
	if err != nil || !strings.Contains(s, "Latency Distribution") {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, s)
	}
	var r result
	r.rps = findFloat(`Requests/sec:\s+([\d.]+)`, s)
	r.total = int(findFloat(`(\d+) requests in`, s))
	r.p50 = wrkLatency(regexp.MustCompile(`(?m)^\s+50%\s+(\S+)`).FindStringSubmatch(s))
	r.p99 = wrkLatency(regexp.MustCompile(`(?m)^\s+99%\s+(\S+)`).FindStringSubmatch(s))
	r.errors = int(findFloat(`Non-2xx or 3xx responses: (\d+)`, s))
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			r.errors += n
		}
	}
	return r, nil
}

// wrkLatency converts a wrk latency ("1.23ms") to milliseconds.
func wrkLatency(m []string) float64 {
	if m == nil {
		return 0
	}
	s := m[1]
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.ms
		}
	}
	return 0
}

// findFloat returns the first group of pattern in s as a number, or 0.
func findFloat(pattern, s string) float64 {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return f
}

// runHandshakes runs this tool's handshakes subcommand on CPU 0.
func runHandshakes(self, addr string, d time.Duration, resume bool) (result, error) {
	cmd := pinned("0", self, "handshakes", "-addr", addr, "-duration", d.String(), "-conns", "16", "-resume="+strconv.FormatBool(resume))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("handshakes: %w", err)
	}
	var h handshakeResult
	if err := json.Unmarshal(out, &h); err != nil {
		return result{}, fmt.Errorf("handshakes output %q: %w", out, err)
	}
	if resume && h.Resumed < h.Requests/2 {
		return result{}, fmt.Errorf("only %d of %d connections resumed their session", h.Resumed, h.Requests)
	}
	return result{rps: float64(h.Requests) / h.Seconds, total: h.Requests, errors: h.Errors, resumed: h.Resumed, p50: h.P50ms, p99: h.P99ms}, nil
}

// h2RequestsPerRun is what one h2load run sends over its 8 connections:
// 9,000 a connection, below the 10,000 after which ALB (and Albatross) ends
// an HTTP/2 connection with GOAWAY. h2load does not reconnect after a
// GOAWAY, so a run that crossed it would stop serving and count its streams
// in flight as failed; runs repeat instead, each on new connections.
const h2RequestsPerRun = 8 * 9000

// h2loadRequests is the requests line of h2load's summary.
var h2loadRequests = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)

// runH2load runs h2load (8 connections, streams concurrent streams each, one
// thread, a per-request log for the latency percentiles) again and again
// until d has passed, and sums the runs. A rate above 0 caps what h2load
// offers at that many requests per second (--rps per connection), so that
// every proxy is measured at the same load rather than each at the rate it
// reaches.
func runH2load(url string, d time.Duration, tmp string, rate, streams int) (result, error) {
	var r result
	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < d {
		logf := filepath.Join(tmp, "h2load.log")
		os.Remove(logf)
		n := h2RequestsPerRun
		var args []string
		if rate > 0 {
			// A capped run lasts n/rate seconds: no longer than what is
			// left of d, so that a low rate does not overrun it.
			left := (d - time.Since(start)).Seconds()
			n = min(n, max(8, int(float64(rate)*left)/8*8))
			args = append(args, "--rps="+strconv.Itoa(rate/8))
		}
		args = append(args, "-t1", "-c8", "-m"+strconv.Itoa(streams), "-n", strconv.Itoa(n), "--log-file="+logf)
		out, err := pinned("0", append(append([]string{"h2load"}, args...), url)...).CombinedOutput()
		s := string(out)
		if err != nil || !strings.Contains(s, "requests:") {
			return result{}, fmt.Errorf("h2load: %v\n%s", err, s)
		}
		if !strings.Contains(s, "Application protocol: h2") {
			return result{}, fmt.Errorf("h2load did not negotiate h2:\n%s", s)
		}
		m := h2loadRequests.FindStringSubmatch(s)
		if m == nil {
			return r, fmt.Errorf("h2load output not understood:\n%s", s)
		}
		ok, _ := strconv.Atoi(m[4])
		r.total += ok
		for _, x := range m[5:] {
			n, _ := strconv.Atoi(x)
			r.errors += n
		}
		l, err := h2loadLatencies(logf)
		if err != nil {
			return r, err
		}
		lat = append(lat, l...)
	}
	r.rps = float64(r.total) / time.Since(start).Seconds()
	slices.Sort(lat)
	r.p50, r.p99 = percentileMS(lat, 0.5), percentileMS(lat, 0.99)
	return r, nil
}

// h2loadLatencies reads h2load's per-request log (start µs, status, duration
// µs), in the log's order.
func h2loadLatencies(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lat []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			continue
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	return lat, sc.Err()
}

// runIdle holds n idle connections open against the proxy and measures its
// resident memory before and after, as compare.py's idle scenario does.
func runIdle(self, addr string, useTLS bool, n, pid int, tmp string) (result, error) {
	ready := filepath.Join(tmp, "idle.ready")
	os.Remove(ready)
	before := rssKiB(pid)
	cmd := pinned("0", self, "idle", "-addr", addr, "-n", strconv.Itoa(n), "-tls="+strconv.FormatBool(useTLS), "-hold", "120s", "-ready-file", ready)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	end := time.Now().Add(120 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(end) {
			return result{}, errors.New("idle connections not all open within 120 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // as compare.py: let the proxy settle (Albatross parks after 200 ms)
	after := rssKiB(pid)
	return result{rssBefore: before, rssAfter: after, kibPerConn: (after - before) / float64(n), note: strings.TrimSpace(out.String())}, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// tree returns pid and its descendants.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", out[i], out[i]))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// usage is what a process tree has used so far: user and system time in
// clock ticks, and its threads' context switches, voluntary (a sleep) and
// involuntary (a preemption).
type usage struct {
	user, sys, switches int64
}

// minus is the usage between an earlier reading and u.
func (u usage) minus(earlier usage) usage {
	return usage{u.user - earlier.user, u.sys - earlier.sys, u.switches - earlier.switches}
}

// usageOf reads the usage of pid and its descendants from /proc. Threads
// that have exited no longer count their switches.
func usageOf(pid int) usage {
	var u usage
	for _, p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		u.user += ut
		u.sys += st
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", p))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for line := range strings.Lines(string(b)) {
				if _, v, ok := strings.Cut(line, "ctxt_switches:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					u.switches += n
				}
			}
		}
	}
	return u
}

// rssKiB is the resident memory of pid and its descendants.
func rssKiB(pid int) float64 {
	var total float64
	for _, p := range tree(pid) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				total += f
			}
		}
	}
	return total
}

// waitPort waits until something accepts connections on 127.0.0.1:port.
func waitPort(port int, limit time.Duration) error {
	end := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(end) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// report prints one table per scenario in compare.py's shape, then each
// round's figures.
func report(w io.Writer, results map[string]map[string][]result, o *options) {
	cpu, _ := exec.Command("sh", "-c", "lscpu | sed -n 's/Model name: *//p'").Output()
	fmt.Fprintf(w, "\n## tlsbench — %s — %d CPUs (%s); proxy on CPU 1, load generator + backend on CPU 0; median of %d rounds, %s each\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), strings.TrimSpace(string(cpu)), o.rounds, o.duration)
	for _, sc := range o.scenarios {
		byProxy := results[sc]
		title := scenarioTitles[sc]
		if h2Scenario(sc) {
			title = fmt.Sprintf(title, o.h2Streams)
		}
		fmt.Fprintf(w, "### %s: %s\n\n", sc, title)
		if sc == "tls-idle" || sc == "idle" {
			fmt.Fprintf(w, "%d connections.\n\n| proxy | RSS before MiB | RSS after MiB | KiB per connection | rounds (KiB per connection) |\n|---|---|---|---|---|\n", o.idleConns)
			for _, n := range o.proxies {
				rs := byProxy[n]
				if len(rs) == 0 {
					continue
				}
				fmt.Fprintf(w, "| %s | %.1f | %.1f | %.2f | %s |\n", n, med(rs, func(r result) float64 { return r.rssBefore / 1024 }),
					med(rs, func(r result) float64 { return r.rssAfter / 1024 }), med(rs, kib), rounds(rs, kib, "%.2f"))
			}
			fmt.Fprintln(w)
			continue
		}
		hs := sc == "tls-new" || sc == "tls-resume"
		extra := ""
		if hs {
			extra = " handshakes per core-second |"
		}
		fmt.Fprintf(w, "| proxy | req/s | p50 ms | p99 ms | proxy CPU µs/req |%s CPU/req vs haproxy | CPU/req vs best anchor | req/s vs haproxy | errors | CPU µs/req rounds (min–max) |\n", extra)
		fmt.Fprintf(w, "|---|---|---|---|---|%s---|---|---|---|---|\n", strings.Repeat("---|", strings.Count(extra, "|")))
		h := byProxy["haproxy"]
		best := 0.0
		for _, a := range []string{"haproxy", "nginx"} {
			if rs := byProxy[a]; len(rs) > 0 && (best == 0 || med(rs, cpuUS) < best) {
				best = med(rs, cpuUS)
			}
		}
		for _, n := range o.proxies {
			rs := byProxy[n]
			if len(rs) == 0 {
				continue
			}
			c := med(rs, cpuUS)
			vsH, vsBest, rr := "-", "-", "-"
			if len(h) > 0 {
				vsH = fmt.Sprintf("%.2f", c/med(h, cpuUS))
				rr = fmt.Sprintf("%.2f", med(rs, rps)/med(h, rps))
			}
			if best > 0 {
				vsBest = fmt.Sprintf("%.2f", c/best)
			}
			errs := 0
			for _, r := range rs {
				errs += r.errors
			}
			col := ""
			if hs {
				col = fmt.Sprintf(" %.0f |", 1e6/c)
			}
			lo, hi := minMax(rs, cpuUS)
			fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.1f |%s %s | %s | %s | %d | %s (%.1f–%.1f) |\n", n, med(rs, rps),
				med(rs, func(r result) float64 { return r.p50 }), med(rs, func(r result) float64 { return r.p99 }), c, col, vsH, vsBest, rr, errs,
				rounds(rs, cpuUS, "%.1f"), lo, hi)
		}
		fmt.Fprintln(w)
		splitTable(w, byProxy, o.proxies)
	}
}

// splitTable prints, below a scenario's table, where each proxy's CPU time
// went, round by round: user and system time per request, and thread
// switches per request. Which of them differs between two proxies says
// where to look (user time: the proxy's own work; system time: its system
// calls; switches: its sleeps).
func splitTable(w io.Writer, byProxy map[string][]result, proxies []string) {
	fmt.Fprintf(w, "| proxy | user µs/req rounds | system µs/req rounds | thread switches per request, rounds |\n|---|---|---|---|\n")
	for _, n := range proxies {
		rs := byProxy[n]
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", n,
			rounds(rs, func(r result) float64 { return r.userUS }, "%.1f"),
			rounds(rs, func(r result) float64 { return r.sysUS }, "%.1f"),
			rounds(rs, func(r result) float64 { return r.switches }, "%.3f"))
	}
	fmt.Fprintln(w)
}

func cpuUS(r result) float64 { return r.cpuUS }
func rps(r result) float64   { return r.rps }
func kib(r result) float64   { return r.kibPerConn }

// med is the median of f over rs.
func med(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// minMax is the range of f over rs.
func minMax(rs []result, f func(result) float64) (lo, hi float64) {
	for i, r := range rs {
		v := f(r)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// rounds lists f over rs in round order.
func rounds(rs []result, f func(result) float64, format string) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf(format, f(r))
	}
	return strings.Join(s, ", ")
}

// pinned prepares a command run on the given CPUs (taskset -c) that the
// kernel kills if this process dies first, so that an interrupted run leaves
// no proxy or load generator behind.
func pinned(cpus string, argv ...string) *exec.Cmd {
	cmd := exec.Command("taskset", append([]string{"-c", cpus}, argv...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}
