package node_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
)

// lbFixture is a running node with one load balancer and one listener, built
// from a YAML template, and the access log it writes.
type lbFixture struct {
	t       *testing.T
	node    *node.Node
	addr    string // listener address, "127.0.0.1:port"
	port    int
	logPath string
	dir     string
}

// fixtureData fills the configuration template.
type fixtureData struct {
	Port    int
	LogPath string
	Targets []string // "ip:port"
	Idle    int      // idle timeout seconds
	Attrs   map[string]string
}

const defaultTemplate = `load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: {{.Idle}}
{{- range $k, $v := .Attrs}}
      {{$k}}: {{$v}}
{{- end}}
    access_log:
      path: {{.LogPath}}
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        protocol: HTTP
        default_actions:
          - type: forward
            target_group: app
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /health, interval_seconds: 5}
    targets:
{{- range .Targets}}
      - {id: {{host .}}, port: {{port .}}}
{{- else}} []
{{- end}}
`

// startLB starts a node forwarding to targets with the given idle timeout
// (seconds) and extra load balancer attributes.
func startLB(t *testing.T, targets []string, idle int, attrs map[string]string, opts ...func(*node.Options)) *lbFixture {
	t.Helper()
	return startLBFrom(t, defaultTemplate, fixtureData{Targets: targets, Idle: idle, Attrs: attrs}, opts...)
}

// startLBFrom starts a node from the configuration template tmpl filled with d,
// whose Port and LogPath it sets.
func startLBFrom(t *testing.T, tmpl string, d fixtureData, opts ...func(*node.Options)) *lbFixture {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	f := &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}
	d.Port, d.LogPath = f.port, f.logPath
	f.node = startNode(t, ln, dir, renderConfig(t, tmpl, d), opts...)
	return f
}

// listenLoopback binds addr, a loopback address with port 0.
func listenLoopback(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startNode starts a node on the configuration yaml, serving its listener from
// the already-bound ln, with its data in dir. The node is shut down when the
// test ends (Shutdown may also be called earlier).
func startNode(t testing.TB, ln net.Listener, dir, yaml string, opts ...func(*node.Options)) *node.Node {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	o := node.Options{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		DataDir:   filepath.Join(dir, "data"),
		Listeners: map[netip.AddrPort]net.Listener{ln.Addr().(*net.TCPAddr).AddrPort(): ln},
		// Targets see only the requests a test sends; health tests turn
		// the checks back on.
		DisableHealthChecks: true,
	}
	for _, fn := range opts {
		fn(&o)
	}
	n, err := node.New(o)
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
	return n
}

func renderConfig(t *testing.T, tmpl string, d fixtureData) string {
	t.Helper()
	funcs := template.FuncMap{
		"host": func(hp string) string { h, _, _ := net.SplitHostPort(hp); return h },
		"port": func(hp string) string { _, p, _ := net.SplitHostPort(hp); return p },
	}
	var b strings.Builder
	if err := template.Must(template.New("cfg").Funcs(funcs).Parse(tmpl)).Execute(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// url returns the load balancer URL of path.
func (f *lbFixture) url(path string) string { return "http://" + f.addr + path }

// logLines waits until the access log holds at least n lines and returns them
// parsed.
func (f *lbFixture) logLines(n int) []accesslog.Entry {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(f.logPath)
		lines := strings.SplitAfter(string(data), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(lines) >= n {
			out := make([]accesslog.Entry, len(lines))
			for i, l := range lines {
				raw := []byte(strings.TrimSuffix(l, "\n"))
				if err := accesslog.ParseLine(raw, &out[i]); err != nil {
					f.t.Fatalf("access log line %d does not parse: %v\n%s", i+1, err, l)
				}
				out[i] = cloneEntry(out[i])
			}
			return out
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("access log has %d lines after 10 s, want %d:\n%s", len(lines), n, data)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// rawLogLines returns the access log's lines as text once it has n of them.
func (f *lbFixture) rawLogLines(n int) []string {
	f.t.Helper()
	f.logLines(n)
	data, _ := os.ReadFile(f.logPath)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// cloneEntry detaches an entry from the buffer it was parsed from.
func cloneEntry(e accesslog.Entry) accesslog.Entry {
	e.Request = bytes.Clone(e.Request)
	e.UserAgent = bytes.Clone(e.UserAgent)
	e.TraceID = bytes.Clone(e.TraceID)
	e.RedirectURL = bytes.Clone(e.RedirectURL)
	e.Attempts = append([]accesslog.Attempt(nil), e.Attempts...)
	e.ELB = strings.Clone(e.ELB)
	e.TargetGroupARN = strings.Clone(e.TargetGroupARN)
	e.ActionsExecuted = strings.Clone(e.ActionsExecuted)
	e.ErrorReason = strings.Clone(e.ErrorReason)
	e.ConnTraceID = strings.Clone(e.ConnTraceID)
	e.Type = strings.Clone(e.Type)
	e.Classification = strings.Clone(e.Classification)
	e.ClassificationReason = strings.Clone(e.ClassificationReason)
	return e
}

// rawExchange sends raw bytes to the load balancer and returns everything it
// answers until it closes the connection or the deadline passes.
func rawExchange(t *testing.T, addr, request string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	out, _ := io.ReadAll(c)
	return string(out)
}

// readResponse reads one HTTP response from a raw connection.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp, string(body)
}

// httpTarget is a real net/http target that records the requests it got.
type httpTarget struct {
	addr  string
	srv   *http.Server
	mu    sync.Mutex
	reqs  []*http.Request
	conns int
}

func startHTTPTarget(t testing.TB, h http.HandlerFunc) *httpTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ht := &httpTarget{addr: ln.Addr().String()}
	ht.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ht.mu.Lock()
			ht.reqs = append(ht.reqs, r.Clone(context.Background()))
			ht.mu.Unlock()
			h(w, r)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				ht.mu.Lock()
				ht.conns++
				ht.mu.Unlock()
			}
		},
	}
	go ht.srv.Serve(ln)
	t.Cleanup(func() { ht.srv.Close() })
	return ht
}

func (ht *httpTarget) requests() []*http.Request {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	return append([]*http.Request(nil), ht.reqs...)
}

func (ht *httpTarget) connCount() int {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	return ht.conns
}

// rawTarget is a TCP target whose behaviour per connection is a function: it
// hangs, closes, resets or answers garbage as a test needs.
type rawTarget struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
}

func startRawTarget(t *testing.T, handle func(c *net.TCPConn)) *rawTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rt := &rawTarget{addr: ln.Addr().String(), ln: ln}
	stop := make(chan struct{})
	var mu sync.Mutex
	var open []net.Conn
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			rt.wg.Add(1)
			go func() {
				defer rt.wg.Done()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		rt.wg.Wait()
	})
	return rt
}

// readHead reads a request head from a raw target connection.
func readHead(c net.Conn) (string, error) {
	return readHeadFrom(bufio.NewReader(c))
}

// readHeadFrom reads one request head, up to and including its empty line.
func readHeadFrom(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\r\n" || line == "\n" {
			return b.String(), nil
		}
	}
}

// closedPort returns an address on which nothing listens: a port that was bound
// and closed.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// checkELBPage checks an ELB-generated response: status, ALB's headers in ALB's
// order and the page body.
func checkELBPage(t *testing.T, raw string, code int, reason string, conn string) {
	t.Helper()
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("no complete response: %q", raw)
	}
	lines := strings.Split(head, "\r\n")
	if want := fmt.Sprintf("HTTP/1.1 %d %s", code, reason); lines[0] != want {
		t.Fatalf("status line %q, want %q", lines[0], want)
	}
	wantBody := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n", code, reason, code, reason)
	names := []string{"Server: awselb/2.0", "Date: ", "Content-Type: text/html", fmt.Sprintf("Content-Length: %d", len(wantBody)), "Connection: " + conn}
	if len(lines) != 1+len(names) {
		t.Fatalf("headers %q, want %d headers", lines[1:], len(names))
	}
	for i, n := range names {
		if !strings.HasPrefix(lines[i+1], n) {
			t.Errorf("header %d is %q, want %q", i+1, lines[i+1], n)
		}
	}
	if body != wantBody {
		t.Errorf("body %q, want %q", body, wantBody)
	}
}
