//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
)

// proxyWithClient starts a target and a proxy with the given idle timeout in
// front of it, and a client connection to the proxy.
func proxyWithClient(t *testing.T, idle time.Duration) (*Proxy, string, net.Conn, *bufio.Reader) {
	t.Helper()
	return proxyWithClientOf(t, quietProxy(), idle)
}

// detachingProxy is a proxy whose plain connections park detached every
// time, however soon they last woke.
func detachingProxy() *Proxy {
	p := quietProxy()
	p.parker.detachAfter = 0
	return p
}

// proxyWithClientOf is proxyWithClient with the proxy p, not yet serving.
func proxyWithClientOf(t *testing.T, p *Proxy, idle time.Duration) (*Proxy, string, net.Conn, *bufio.Reader) {
	t.Helper()
	target := startOKTarget(t)
	attrs := config.LoadBalancerAttributes{IdleTimeout: idle, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, nil, target))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, addr, c, bufio.NewReader(c)
}

func TestIdleConnectionParksAndResumes(t *testing.T) {
	p, _, c, br := proxyWithClient(t, time.Minute)
	for round := range 3 {
		get(t, c, br)
		// Once idle for parkAfter, the connection has no goroutine: the
		// parker holds it, and its next request is served all the same.
		waitFor(t, "the connection is parked", func() bool { return p.parker.parked() == 1 })
		if n := connCount(p); n != 1 {
			t.Fatalf("round %d: proxy holds %d connections while one is parked, want 1", round, n)
		}
	}
	get(t, c, br)
	if n := p.parker.parked(); n != 0 {
		t.Fatalf("%d connections parked right after a request, want 0", n)
	}
}

func TestParkedConnectionClosedAtIdleTimeout(t *testing.T) {
	const idle = time.Second
	p, _, c, br := proxyWithClient(t, idle)
	// The server's idle time starts when it has written the response, before
	// get returns; a clock read before the request is a safe lower bound.
	idleFrom := time.Now()
	get(t, c, br)
	waitFor(t, "the connection is parked", func() bool { return p.parker.parked() == 1 })
	// The idle timeout counts from the last byte, across parking: the
	// parker closes the connection once it passes, without a response.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if err != io.EOF {
		t.Fatalf("read on an idle connection: %d bytes, %v; want EOF", n, err)
	}
	if elapsed := time.Since(idleFrom); elapsed < idle {
		t.Fatalf("closed after %v idle, before the %v idle timeout", elapsed, idle)
	}
	waitFor(t, "the proxy forgets the connection", func() bool { return connCount(p) == 0 && p.parker.parked() == 0 })
}

func TestParkedConnectionClientCloses(t *testing.T) {
	p, addr, first, br := proxyWithClient(t, time.Minute)
	get(t, first, br)
	conns := []net.Conn{first}
	for range 19 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		get(t, c, bufio.NewReader(c))
		conns = append(conns, c)
	}
	waitFor(t, "all connections are parked", func() bool { return p.parker.parked() == 20 })
	for _, c := range conns {
		c.Close()
	}
	// Each close wakes its connection, which reads EOF and is forgotten.
	waitFor(t, "the proxy forgets closed connections", func() bool { return connCount(p) == 0 && p.parker.parked() == 0 })
}

func TestShutdownClosesParkedConnections(t *testing.T) {
	p, _, c, br := proxyWithClient(t, time.Minute)
	get(t, c, br)
	waitFor(t, "the connection is parked", func() bool { return p.parker.parked() == 1 })

	shutdownEndsConnection(t, p, c, br)
}

// shutdownEndsConnection shuts p down and checks that the client connection
// c (read through br) ends with EOF (over TLS, its close_notify) and that p
// holds no connection afterwards.
func shutdownEndsConnection(t *testing.T, p *Proxy, c net.Conn, br *bufio.Reader) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(t.Context()) }()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on a parked connection during shutdown: %d bytes, %v; want EOF", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := connCount(p); n != 0 {
		t.Fatalf("%d connections left after shutdown", n)
	}
}

// tlsProxyWithClient is proxyWithClient over HTTPS: a kept-alive TLS 1.3
// connection carrying HTTP/1.1, through conn wrap (nil for none).
func tlsProxyWithClient(t *testing.T, idle time.Duration, wrap func(net.Conn) net.Conn) (*Proxy, net.Conn, *bufio.Reader) {
	t.Helper()
	return tlsProxyWithClientOf(t, quietProxy(), idle, wrap)
}

// tlsProxyWithClientOf is tlsProxyWithClient with the proxy p, not yet serving.
func tlsProxyWithClientOf(t *testing.T, p *Proxy, idle time.Duration, wrap func(net.Conn) net.Conn) (*Proxy, net.Conn, *bufio.Reader) {
	t.Helper()
	target := startOKTarget(t)
	attrs := config.LoadBalancerAttributes{IdleTimeout: idle, ClientKeepAlive: time.Hour}
	addr := serve(t, p, withTLS(t, testListener(attrs, nil, target), true))
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		raw = wrap(raw)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example", NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS13})
	t.Cleanup(func() { c.Close() })
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return p, c, bufio.NewReader(c)
}

func TestIdleTLSConnectionParksAndResumes(t *testing.T) {
	p, c, br := tlsProxyWithClient(t, time.Minute, nil)
	for round := range 3 {
		get(t, c, br)
		// Between requests a TLS connection parks as a plain one does.
		waitFor(t, "the TLS connection is parked", func() bool { return p.parker.parked() == 1 })
		if n := connCount(p); n != 1 {
			t.Fatalf("round %d: proxy holds %d connections while one is parked, want 1", round, n)
		}
	}
	get(t, c, br)
	if n := p.parker.parked(); n != 0 {
		t.Fatalf("%d connections parked right after a request, want 0", n)
	}
}

func TestParkedTLSConnectionClosedAtIdleTimeout(t *testing.T) {
	const idle = time.Second
	p, c, br := tlsProxyWithClient(t, idle, nil)
	idleFrom := time.Now()
	get(t, c, br)
	// A first parking is detached: closing it rebuilds the connection so
	// that it ends with close_notify, as an attached one does.
	waitFor(t, "the TLS connection is parked detached", func() bool { return p.parker.parked() == 1 && detached(p) == 1 })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := br.Read(make([]byte, 1))
	if err != io.EOF {
		t.Fatalf("read on an idle TLS connection: %d bytes, %v; want EOF (close_notify)", n, err)
	}
	if elapsed := time.Since(idleFrom); elapsed < idle {
		t.Fatalf("closed after %v idle, before the %v idle timeout", elapsed, idle)
	}
	waitFor(t, "the proxy forgets the connection", func() bool { return connCount(p) == 0 && p.parker.parked() == 0 })
}

// splitWriter writes the first bytes of one Write, then calls between, then
// writes the rest: a TLS record that arrives in two pieces.
type splitWriter struct {
	net.Conn
	armed   bool
	between func()
}

func (s *splitWriter) Write(b []byte) (int, error) {
	if !s.armed || len(b) < 4 {
		return s.Conn.Write(b)
	}
	s.armed = false
	n, err := s.Conn.Write(b[:3])
	if err != nil {
		return n, err
	}
	s.between()
	m, err := s.Conn.Write(b[3:])
	return n + m, err
}

func TestTLSConnectionParksWithPartialRecord(t *testing.T) {
	var sw *splitWriter
	p, c, br := tlsProxyWithClient(t, time.Minute, func(nc net.Conn) net.Conn {
		sw = &splitWriter{Conn: nc}
		return sw
	})
	get(t, c, br)
	waitFor(t, "the TLS connection is parked", func() bool { return p.parker.parked() == 1 })
	// The next request's record arrives in two pieces, with the connection
	// resumed by the first and parked again, holding part of a record,
	// before the second: the rest must wake it and the request be served.
	sw.between = func() {
		waitFor(t, "the connection is parked holding part of a record", func() bool {
			return p.parker.parked() == 1 && p.parker.resumed() >= 1
		})
	}
	sw.armed = true
	get(t, c, br)
}

// TestParkedTLSConnectionIsDetachedAndRebuilt parks a TLS connection
// detached between every request: it keeps its tls.Conn and descriptor
// only, and each request after a parking is served over the same TLS
// session, its reply deferred into the wait for the next request as on an
// attached connection. A shutdown then closes a detached TLS connection
// with close_notify.
func TestParkedTLSConnectionIsDetachedAndRebuilt(t *testing.T) {
	p, c, br := tlsProxyWithClientOf(t, detachingProxy(), time.Minute, nil)
	for round := range 4 {
		for range 3 {
			get(t, c, br)
		}
		waitFor(t, "the TLS connection is parked detached", func() bool { return p.parker.parked() == 1 && detached(p) == 1 })
		if n := connCount(p); n != 1 {
			t.Fatalf("round %d: proxy holds %d connections while one is parked, want 1", round, n)
		}
	}
	if resumed := p.parker.resumed(); resumed < 3 {
		t.Fatalf("the parker resumed the connection %d times, want at least 3", resumed)
	}
	shutdownEndsConnection(t, p, c, br)
}

// detached reports how many of the proxy's connections are parked with only
// their descriptor: no net.Conn.
func detached(p *Proxy) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		if c.nc == nil {
			n++
		}
	}
	return n
}

// clientLog keeps the client address and status of each finished entry.
type clientLog struct {
	mu      sync.Mutex
	clients []netip.AddrPort
	codes   []int
}

func (l *clientLog) Log(e *accesslog.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients = append(l.clients, e.Client)
	l.codes = append(l.codes, e.ELBStatusCode)
}

func (l *clientLog) snapshot() ([]netip.AddrPort, []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.clients), slices.Clone(l.codes)
}

func TestParkedConnectionIsDetachedAndRebuilt(t *testing.T) {
	// The target answers with the X-Forwarded-For it received and, for
	// /big, a body large enough to be spliced to the client.
	big := randomBytes(1<<20, 7)
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-XFF", r.Header.Get("X-Forwarded-For"))
		if r.URL.Path == "/big" {
			w.Write(big)
			return
		}
		io.WriteString(w, "ok")
	})
	p := detachingProxy()
	log := &clientLog{}
	attrs := config.LoadBalancerAttributes{IdleTimeout: time.Minute, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, log, target))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	client := c.LocalAddr().(*net.TCPAddr).AddrPort()
	request := func(path string) *http.Response {
		t.Helper()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	requests := 0
	for round := range 3 {
		for _, path := range []string{"/", "/big", "/"} {
			resp := request(path)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			requests++
			want := []byte("ok")
			if path == "/big" {
				want = big
			}
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want) {
				t.Fatalf("round %d, %s: %d, %d bytes, %v; want 200 with %d bytes", round, path, resp.StatusCode, len(body), err, len(want))
			}
			if got := resp.Header.Get("X-Got-XFF"); got != client.Addr().String() {
				t.Fatalf("round %d, %s: target got X-Forwarded-For %q, want %q", round, path, got, client.Addr())
			}
		}
		// Parked, the connection holds only its descriptor; the next
		// request rebuilds it.
		waitFor(t, "the connection is parked detached", func() bool { return p.parker.parked() == 1 && detached(p) == 1 })
		if n := connCount(p); n != 1 {
			t.Fatalf("round %d: proxy holds %d connections while one is parked, want 1", round, n)
		}
	}
	waitFor(t, "every request is logged", func() bool { cl, _ := log.snapshot(); return len(cl) == requests })
	clients, codes := log.snapshot()
	for i := range clients {
		if clients[i] != client || codes[i] != 200 {
			t.Fatalf("log entry %d: client %v, status %d; want %v, 200", i, clients[i], codes[i], client)
		}
	}
}

func TestRebuiltConnectionClosedAtIdleTimeout(t *testing.T) {
	const idle = time.Second
	p, _, c, br := proxyWithClientOf(t, detachingProxy(), idle)
	// Parked and rebuilt twice: the timeout still counts from the last byte.
	for range 2 {
		get(t, c, br)
		waitFor(t, "the connection is parked detached", func() bool { return detached(p) == 1 })
	}
	idleFrom := time.Now()
	get(t, c, br)
	waitFor(t, "the connection is parked detached", func() bool { return detached(p) == 1 })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on an idle connection: %d bytes, %v; want EOF", n, err)
	}
	if elapsed := time.Since(idleFrom); elapsed < idle {
		t.Fatalf("closed after %v idle, before the %v idle timeout", elapsed, idle)
	}
	waitFor(t, "the proxy forgets the connection", func() bool { return connCount(p) == 0 && p.parker.parked() == 0 })
}

func TestShutdownClosesRebuiltParkedConnections(t *testing.T) {
	p, addr, first, br := proxyWithClientOf(t, detachingProxy(), time.Minute)
	get(t, first, br)
	waitFor(t, "the connection is parked detached", func() bool { return detached(p) == 1 })
	get(t, first, br) // rebuilt
	conns := []net.Conn{first}
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		get(t, c, bufio.NewReader(c))
		conns = append(conns, c)
	}
	waitFor(t, "all connections are parked detached", func() bool { return detached(p) == 5 })

	done := make(chan error, 1)
	go func() { done <- p.Shutdown(t.Context()) }()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("connection %d: read during shutdown: %d bytes, %v; want EOF", i, n, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := connCount(p); n != 0 {
		t.Fatalf("%d connections left after shutdown", n)
	}
}

func TestPartialRequestHeadNeverParks(t *testing.T) {
	// Only a connection with nothing of a request buffered parks: one that
	// sent part of a head keeps its goroutine and buffer, and the idle
	// timeout answers it 408, which a parked connection never gets (its
	// expiry closes silently).
	const idle = time.Second
	log := &clientLog{}
	p := detachingProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: idle, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, log, startOKTarget(t)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get(t, c, br)
	waitFor(t, "the connection is parked detached", func() bool { return detached(p) == 1 })
	// The first bytes wake it; the rest never come.
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHo"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to a partial head: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 408 {
		t.Fatalf("partial head after a rebuild: status %d, want 408", resp.StatusCode)
	}
	if n := p.parker.resumed(); n != 1 {
		t.Fatalf("the parker resumed the connection %d times, want 1 (the partial head's bytes)", n)
	}
}

func TestConnectionThatWakesSoonParksAttached(t *testing.T) {
	const after = 500 * time.Millisecond
	p := quietProxy()
	p.parker.detachAfter = after
	p, _, c, br := proxyWithClientOf(t, p, time.Minute)
	// A first parking is detached; woken at once, the connection parks
	// attached next, keeping its net.Conn and sparing the rebuild.
	get(t, c, br)
	waitFor(t, "the connection is parked detached", func() bool { return p.parker.parked() == 1 && detached(p) == 1 })
	get(t, c, br)
	idleFrom := time.Now()
	waitFor(t, "the connection is parked", func() bool { return p.parker.parked() == 1 })
	if n := detached(p); n != 0 {
		t.Fatalf("a connection that woke within %v parked detached", after)
	}
	// Idle longer than that before it wakes: it parks detached again.
	waitFor(t, "the connection has been idle past detachAfter", func() bool { return time.Since(idleFrom) > after })
	get(t, c, br)
	waitFor(t, "the connection is parked detached", func() bool { return p.parker.parked() == 1 && detached(p) == 1 })
	get(t, c, br)
}
