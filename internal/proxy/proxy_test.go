package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// testListener compiles by hand a listener forwarding to targets, with
// attributes outside the configuration's ranges where a test needs them.
func testListener(attrs config.LoadBalancerAttributes, log snapshot.EntryLogger, targets ...string) *atomic.Pointer[snapshot.Listener] {
	tg := &snapshot.TargetGroup{Name: "tg", ARN: "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/tg/0123456789abcdef", Policy: &balance.RoundRobin[*snapshot.Target]{}}
	for _, t := range targets {
		ap := netip.MustParseAddrPort(t)
		p := upstream.NewPool(t, upstream.Options{})
		p.SetIdleTimeout(attrs.IdleTimeout)
		tg.Targets = append(tg.Targets, snapshot.NewTarget(ap, p, nil))
	}
	lb := &snapshot.LoadBalancer{Name: "lb", ResourceID: "app/lb/0123456789abcdef", DNSName: "lb.localhost", Attrs: attrs, Log: log}
	l := &snapshot.Listener{LB: lb, Port: 8080, PortText: "8080", Scheme: "http", DefaultAction: &snapshot.Action{Type: "forward", Logged: "forward", TargetGroup: tg}}
	var p atomic.Pointer[snapshot.Listener]
	p.Store(l)
	return &p
}

// serve runs the proxy on a loopback listener until the test ends.
func serve(t testing.TB, p *Proxy, ln *atomic.Pointer[snapshot.Listener]) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.ServeConn(c, ln)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return l.Addr().String()
}

func quietProxy() *Proxy {
	return New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func TestClientKeepAliveCapsConnectionLife(t *testing.T) {
	target := startOKTarget(t)

	const life = 300 * time.Millisecond
	attrs := config.LoadBalancerAttributes{IdleTimeout: 10 * time.Second, ClientKeepAlive: life}
	addr := serve(t, quietProxy(), testListener(attrs, nil, target))
	// The proxy starts the connection's clock when it accepts it, which is
	// after this moment: a close it sends cannot look early by our clock.
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// Requests keep the connection until its life is over; the first request
	// after that is answered with Connection: close and the connection ends.
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("connection never closed")
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Close {
			if since := time.Since(start); since < life {
				t.Fatalf("closed after %v, before the %v keep-alive duration", since, life)
			}
			break
		}
		if time.Since(start) > life+2*time.Second {
			t.Fatal("connection outlived its keep-alive duration by 2 s")
		}
		time.Sleep(20 * time.Millisecond) // pace of the client
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after Connection: close read %d, %v; want EOF", n, err)
	}
}

// fixedTarget answers every request on a connection with the same response; it
// allocates nothing per request, so allocations measured around it are the
// proxy's.
func fixedTarget(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serveFixedTarget(l)
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// serveFixedTarget is fixedTarget's loop: it serves l until l is closed.
func serveFixedTarget(l net.Listener) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 64\r\nContent-Type: text/plain\r\n\r\n" + string(bytes.Repeat([]byte("x"), 64)))
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 8192)
			n := 0
			for {
				m, err := c.Read(buf[n:])
				if err != nil {
					return
				}
				n += m
				for {
					i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
					if i < 0 {
						break
					}
					n = copy(buf, buf[i+4:n])
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}
		}()
	}
}

// BenchmarkProxyKeepAlive measures one proxied request on keep-alive client and
// target connections: with no access log, with the entry finished to a logger
// that drops it, and with a real access log file. allocs/op is the proxy's
// per-request allocation count; cpu-µs/op is the whole process's CPU time per
// request (client and target included, the same in every variant), which
// counts the access log writer's goroutine too.
func BenchmarkProxyKeepAlive(b *testing.B) {
	b.Run("log=off", func(b *testing.B) { benchKeepAlive(b, nil) })
	b.Run("log=discard", func(b *testing.B) { benchKeepAlive(b, discardLog{}) })
	b.Run("log=file", func(b *testing.B) {
		w, err := accesslog.Open(accesslog.Options{Path: filepath.Join(b.TempDir(), "access.log"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close(context.Background())
		benchKeepAlive(b, w)
	})
}

func benchKeepAlive(b *testing.B, log snapshot.EntryLogger) {
	do, respBytes := keepAliveClient(b, log)
	benchRequests(b, do, respBytes)
}

// benchRequests runs do, one request of respBytes bytes of response, b.N
// times, and reports the process's CPU per request beside the time.
func benchRequests(b *testing.B, do func(), respBytes int) {
	b.ReportAllocs()
	cpu0 := testutil.ProcessCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		do()
	}
	b.StopTimer()
	b.ReportMetric(float64(respBytes), "resp-bytes")
	b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// keepAliveClient starts a proxy in front of a fixed target and returns a
// function that sends one request on a keep-alive client connection and reads
// its response, allocating nothing itself, and the response's size.
func keepAliveClient(tb testing.TB, log snapshot.EntryLogger) (func(), int) {
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(tb, quietProxy(), testListener(attrs, log, fixedTarget(tb)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return requestLoop(tb, c)
}

// TestKeepAliveRequestAllocatesNothing holds the hot path to its allocation
// budget: a proxied keep-alive request, access log entry included, makes no
// heap allocation (no watcher goroutine for a prompt target, no deferred
// closures, no per-request buffers). Over a kept-alive TLS connection the same
// holds of the proxy's own code; crypto/tls itself allocates once per record
// it reads (tlsReadAllocs), so the https case allows exactly that.
func TestKeepAliveRequestAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	t.Run("http", func(t *testing.T) {
		do, _ := keepAliveClient(t, discardLog{})
		for range 100 {
			do() // warm the pools
		}
		if allocs := testing.AllocsPerRun(500, do); allocs >= 0.5 {
			t.Fatalf("%.2f allocations per proxied request, want 0", allocs)
		}
	})
	t.Run("https", func(t *testing.T) {
		// The client runs in a child process so that its own crypto/tls
		// allocations are not counted.
		lg := startLoadGen(t)
		attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
		addr := serve(t, quietProxy(), withTLS(t, testListener(attrs, discardLog{}, lg.target), false))
		lg.command(t, "connecttls %s 1", addr)
		lg.command(t, "run 200") // warm the pools
		allocs := allocsPerRequest(t, lg, 2000)
		t.Logf("%.3f allocations per request over TLS", allocs)
		if allocs >= tlsReadAllocs+0.5 {
			t.Fatalf("%.2f allocations per proxied request over TLS, want %d (crypto/tls's own)", allocs, tlsReadAllocs)
		}
	})
}

// discardLog drops entries.
type discardLog struct{}

func (discardLog) Log(*accesslog.Entry) {}

// startOKTarget runs an HTTP target answering "ok" until the test ends.
func startOKTarget(t *testing.T) string {
	t.Helper()
	return startTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
}

// startTarget runs a net/http target with handler on 127.0.0.1 until the
// test ends and returns its address.
func startTarget(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := &http.Server{Handler: handler}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// waitFor polls cond until it holds or a deadline (10 s) passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

// connCount is how many client connections the proxy holds open.
func connCount(p *Proxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// get sends one keep-alive GET on c and checks the answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
}

// panickyConn panics on its first read, as a bug in request handling would.
type panickyConn struct{ net.Conn }

func (panickyConn) Read([]byte) (int, error) { panic("injected failure") }

func TestPanicEndsOnlyItsConnection(t *testing.T) {
	target := startOKTarget(t)
	p := quietProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: time.Minute, ClientKeepAlive: time.Hour}
	ln := testListener(attrs, nil, target)
	addr := serve(t, p, ln)

	client, server := net.Pipe()
	defer client.Close()
	p.ServeConn(panickyConn{server}, ln) // returns: the panic is recovered
	if n := connCount(p); n != 0 {
		t.Fatalf("proxy still holds %d connections after a panic", n)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Fatal("the panicked connection was not closed")
	}
	// The proxy goes on serving other connections.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get(t, c, bufio.NewReader(c))
}
