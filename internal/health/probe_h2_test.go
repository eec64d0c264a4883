package health

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcSettings is a GRPC group's check: the default path, codes as given.
func grpcSettings(t *testing.T, codes string) *settings {
	t.Helper()
	m, err := config.ParseGRPCCodes(codes)
	if err != nil {
		t.Fatal(err)
	}
	return &settings{thresholds: Thresholds{Healthy: 2, Unhealthy: 2}, interval: 5 * time.Second,
		timeout: 2 * time.Second, path: config.DefaultGRPCHealthCheckPath, matcher: m, h2: true, grpc: true}
}

// startGRPCServer starts a real gRPC server (cleartext HTTP/2) with no
// services but one that records the methods called on unknown services and
// answers them with unknown's status (nil: OK).
func startGRPCServer(t *testing.T, tlsConf *tls.Config, unknown func() error) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var methods []string
	opts := []grpc.ServerOption{grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		m, _ := grpc.MethodFromServerStream(stream)
		mu.Lock()
		methods = append(methods, m)
		mu.Unlock()
		return unknown()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	srv := grpc.NewServer(opts...)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), methods...)
	}
}

func unimplemented() error { return status.Error(codes.Unimplemented, "no such method") }

// TestCheckGRPC runs gRPC health checks against a real gRPC server: the
// default matcher (12) passes on a server that does not implement the health
// check method, a matcher that excludes the answer is a code mismatch with the
// gRPC code, and the call is a POST of the configured path.
func TestCheckGRPC(t *testing.T) {
	addr, methods := startGRPCServer(t, nil, unimplemented)
	target := addrOf(t, addr)

	res := checkH2(context.Background(), grpcSettings(t, "12"), target)
	if !res.Pass || res.Code != 12 {
		t.Fatalf("default matcher 12 on an unimplemented method: %+v, want a pass with code 12", res)
	}
	if got := methods(); len(got) != 1 || got[0] != config.DefaultGRPCHealthCheckPath {
		t.Errorf("methods called: %q, want one call of %s", got, config.DefaultGRPCHealthCheckPath)
	}
	res = checkH2(context.Background(), grpcSettings(t, "0"), target)
	if res.Pass || res.Reason != ReasonResponseCodeMismatch || res.Code != 12 {
		t.Fatalf("matcher 0, answer 12: %+v, want Target.ResponseCodeMismatch with code 12", res)
	}
	rec := Observe(Observe(Record{State: StateHealthy}, res, Thresholds{Healthy: 2, Unhealthy: 2}), res, Thresholds{Healthy: 2, Unhealthy: 2})
	if rec.State != StateUnhealthy || rec.Description() != "Health checks failed with these codes: [12]" {
		t.Errorf("after two mismatches: %v %q", rec.State, rec.Description())
	}
	for _, m := range []string{"0-99", "0,12", "10-12"} {
		if res := checkH2(context.Background(), grpcSettings(t, m), target); !res.Pass {
			t.Errorf("matcher %s, answer 12: %+v, want a pass", m, res)
		}
	}
	if res := checkH2(context.Background(), grpcSettings(t, "13-99"), target); res.Pass || res.Reason != ReasonResponseCodeMismatch {
		t.Errorf("matcher 13-99, answer 12: %+v, want a mismatch", res)
	}

	// A method that answers OK: matcher 0 passes.
	okAddr, _ := startGRPCServer(t, nil, func() error { return nil })
	if res := checkH2(context.Background(), grpcSettings(t, "0"), addrOf(t, okAddr)); !res.Pass || res.Code != 0 {
		t.Errorf("matcher 0, answer OK: %+v, want a pass with code 0", res)
	}
}

// TestCheckGRPCOverTLS checks an HTTPS GRPC group's target: TLS with ALPN h2,
// certificate not verified.
func TestCheckGRPCOverTLS(t *testing.T) {
	cert := httptest.NewUnstartedServer(nil) // for its self-signed certificate
	cert.StartTLS()
	tlsConf := &tls.Config{Certificates: cert.TLS.Certificates, NextProtos: []string{"h2"}}
	cert.Close()
	addr, methods := startGRPCServer(t, tlsConf, unimplemented)
	s := grpcSettings(t, "12")
	s.https = true
	if res := checkH2(context.Background(), s, addrOf(t, addr)); !res.Pass || res.Code != 12 {
		t.Fatalf("gRPC over TLS: %+v, want a pass with code 12", res)
	}
	if len(methods()) != 1 {
		t.Errorf("methods called: %q", methods())
	}
}

// TestCheckGRPCTrailers checks the grpc-status of a response with a body and
// trailers, and a response without any grpc-status.
func TestCheckGRPCTrailers(t *testing.T) {
	var mode string
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := mode
		mu.Unlock()
		if r.ProtoMajor != 2 || r.Method != "POST" || r.Header.Get("Content-Type") != "application/grpc" ||
			r.Header.Get("Te") != "trailers" || r.UserAgent() != UserAgent {
			w.WriteHeader(400)
			return
		}
		switch m {
		case "trailer":
			w.Header().Set("Trailer", "Grpc-Status")
			w.Header().Set("Content-Type", "application/grpc")
			w.Write([]byte{0, 0, 0, 0, 2, 8, 1}) // one small message
			w.Header().Set("Grpc-Status", "0")
		case "none":
			w.WriteHeader(200)
		}
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	target := addrOf(t, ln.Addr().String())
	set := func(m string) { mu.Lock(); mode = m; mu.Unlock() }

	set("trailer")
	if res := checkH2(context.Background(), grpcSettings(t, "0"), target); !res.Pass || res.Code != 0 {
		t.Errorf("grpc-status 0 in the trailers: %+v, want a pass", res)
	}
	set("none")
	res := checkH2(context.Background(), grpcSettings(t, "0-99"), target)
	if res.Pass || res.Reason != ReasonFailedHealthChecks || !strings.Contains(res.Detail, "no grpc-status") {
		t.Errorf("no grpc-status: %+v, want Target.FailedHealthChecks", res)
	}
}

// TestCheckH2NotSpoken checks that a target speaking only HTTP/1.1 fails an
// HTTP/2 check at once (not by timing out), in cleartext and over TLS.
func TestCheckH2NotSpoken(t *testing.T) {
	h1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer h1.Close()
	s := grpcSettings(t, "12")
	res := checkH2(context.Background(), s, addrOf(t, h1.URL))
	if res.Pass || res.Reason != ReasonFailedHealthChecks {
		t.Errorf("h2c to an HTTP/1.1 target: %+v, want Target.FailedHealthChecks", res)
	}
	h1s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer h1s.Close()
	s.https = true
	res = checkH2(context.Background(), s, addrOf(t, h1s.URL))
	// Go's TLS server refuses the handshake when no protocol is common;
	// servers that ignore ALPN complete it and fail the negotiation check.
	if res.Pass || res.Reason != ReasonFailedHealthChecks || !strings.Contains(res.Detail, "application protocol") && !strings.Contains(res.Detail, "ALPN h2") {
		t.Errorf("TLS to an HTTP/1.1 target: %+v, want Target.FailedHealthChecks for ALPN", res)
	}
	// A TLS server that ignores ALPN completes the handshake without h2.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: h1s.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	res = checkH2(context.Background(), s, addrOf(t, ln.Addr().String()))
	if res.Pass || res.Reason != ReasonFailedHealthChecks || !strings.Contains(res.Detail, "ALPN h2") {
		t.Errorf("TLS without ALPN: %+v, want Target.FailedHealthChecks for ALPN", res)
	}
}

// TestCheckHTTP2 checks an HTTP2 group's check: GET over HTTP/2 judged by
// the HTTP status, a hung target timing out.
func TestCheckHTTP2(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		if r.URL.Path == "/hang" {
			<-release
		}
		w.WriteHeader(204)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer close(release)
	target := addrOf(t, srv.URL)
	s := testSettings(t, "200-299")
	s.h2, s.https = true, true
	if res := checkH2(context.Background(), s, target); !res.Pass || res.Code != 204 {
		t.Fatalf("HTTP2 check, 204 in 200-299: %+v", res)
	}
	mu.Lock()
	r := got[0]
	mu.Unlock()
	if r.ProtoMajor != 2 || r.Method != "GET" || r.URL.Path != "/health" || r.URL.RawQuery != "deep=1" ||
		r.UserAgent() != UserAgent || r.Host != target.String() {
		t.Errorf("request: %s %s %s UA %q Host %q", r.Proto, r.Method, r.URL, r.UserAgent(), r.Host)
	}
	s.matcher, _ = config.ParseHTTPCodes("200")
	if res := checkH2(context.Background(), s, target); res.Pass || res.Reason != ReasonResponseCodeMismatch || res.Code != 204 {
		t.Errorf("HTTP2 check, 204 not in 200: %+v", res)
	}
	s.path, s.timeout = "/hang", 300*time.Millisecond
	if res := checkH2(context.Background(), s, target); res.Pass || res.Reason != ReasonTimeout {
		t.Errorf("hung target: %+v, want Target.Timeout", res)
	}
}
