package proxy

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// withTLS turns a test listener into an HTTPS one with a self-signed ECDSA
// certificate for bench.example, the default security policy, and HTTP/2
// offered through ALPN when h2 is set.
func withTLS(tb testing.TB, ln *atomic.Pointer[snapshot.Listener], h2 bool) *atomic.Pointer[snapshot.Listener] {
	tb.Helper()
	kp := selfSigned(tb, "bench.example")
	pol, err := tlsconf.Lookup(tlsconf.DefaultPolicy)
	if err != nil {
		tb.Fatal(err)
	}
	tl, err := tlsconf.NewListener(pol, []*tlsconf.Cert{{ARN: "arn:aws:acm:us-east-1:000000000000:certificate/bench", Names: []string{"bench.example"}, TLS: &kp}}, h2)
	if err != nil {
		tb.Fatal(err)
	}
	l := *ln.Load()
	l.TLS, l.Scheme = tl, "https"
	var p atomic.Pointer[snapshot.Listener]
	p.Store(&l)
	return &p
}

// selfSigned returns a self-signed certificate for name, valid for an hour.
func selfSigned(tb testing.TB, name string) tls.Certificate {
	tb.Helper()
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{name}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// dialTLS opens a TLS 1.3 connection speaking HTTP/1.1 (or h2 with alpn "h2")
// to addr, handshake done.
func dialTLS(tb testing.TB, addr, alpn string) *tls.Conn {
	tb.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example", NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if got := c.ConnectionState().NegotiatedProtocol; got != alpn {
		tb.Fatalf("ALPN chose %q, want %q", got, alpn)
	}
	return c
}

// tlsReadAllocs is how many heap allocations crypto/tls makes for each TLS
// record it reads: the atLeastReader of Conn.readFromUntil escapes through
// bytes.Buffer.ReadFrom (golang/go#53142). A request in one record costs the
// proxy that one allocation and no other.
const tlsReadAllocs = 1

// allocsPerRequest has the load generator send n requests and returns this
// process's heap allocations per request: the proxy's and the target's, the
// clients being in the child process (the target allocates nothing).
func allocsPerRequest(tb testing.TB, lg *loadGen, n int) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lg.command(tb, "run %d", n)
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// tlsKeepAliveClient is keepAliveClient over HTTPS: one kept-alive TLS
// connection carrying HTTP/1.1.
func tlsKeepAliveClient(tb testing.TB, log snapshot.EntryLogger) (func(), int) {
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(tb, quietProxy(), withTLS(tb, testListener(attrs, log, fixedTarget(tb)), false))
	return requestLoop(tb, dialTLS(tb, addr, "http/1.1"))
}

// BenchmarkProxyKeepAliveTLS is BenchmarkProxyKeepAlive's log=off case over
// a kept-alive TLS 1.3 connection (HTTP/1.1).
func BenchmarkProxyKeepAliveTLS(b *testing.B) {
	do, respBytes := tlsKeepAliveClient(b, nil)
	benchRequests(b, do, respBytes)
}

// requestLoop returns a function that sends one keep-alive request on c and
// reads its whole response, allocating nothing itself, and the response's size.
func requestLoop(tb testing.TB, c net.Conn) (func(), int) {
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	buf := make([]byte, 4096)
	// Learn the response size once.
	c.Write(req)
	expect, _ := c.Read(buf)
	if expect < 64 {
		tb.Fatalf("first response: %d bytes, %q", expect, buf[:expect])
	}
	return func() {
		if _, err := c.Write(req); err != nil {
			tb.Fatal(err)
		}
		for got := 0; got < expect; {
			m, err := c.Read(buf[got:])
			if err != nil {
				tb.Fatal(err)
			}
			got += m
		}
	}, expect
}

// TestHTTP2StreamAllocations holds an HTTP/2 request to h2StreamAllocs heap
// allocations (the HPACK decoder's field callback and the header strings its
// table did not hold; stream state, handler goroutines and the proxy's stream
// adapter are pooled): 8 connections with 4 streams in flight each, the
// clients in a child process.
func TestHTTP2StreamAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	lg := startLoadGen(t)
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, quietProxy(), withTLS(t, testListener(attrs, discardLog{}, lg.target), true))
	lg.command(t, "connecth2 %s 8 4", addr)
	lg.command(t, "run 500") // warm the pools
	allocs := allocsPerRequest(t, lg, 3000)
	t.Logf("%.1f allocations per HTTP/2 request", allocs)
	if allocs > h2StreamAllocs {
		t.Fatalf("%.1f allocations per HTTP/2 request, budget %d", allocs, h2StreamAllocs)
	}
}
