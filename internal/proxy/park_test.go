//go:build linux

package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// proxyWithClient starts a target and a proxy with the given idle timeout in
// front of it, and a client connection to the proxy.
func proxyWithClient(t *testing.T, idle time.Duration) (*Proxy, string, net.Conn, *bufio.Reader) {
	t.Helper()
	target := startOKTarget(t)
	p := quietProxy()
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
	target := startOKTarget(t)
	p := quietProxy()
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
	waitFor(t, "the TLS connection is parked", func() bool { return p.parker.parked() == 1 })
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
