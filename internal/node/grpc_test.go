package node_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/node"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// startGRPCTarget starts a real gRPC server (grpc-go's health service) on
// cleartext HTTP/2.
func startGRPCTarget(t *testing.T) (string, *health.Server) {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), hs
}

// startVersionLB starts an HTTPS load balancer whose target group has the
// given protocol version (a GRPC group keeps the default health check path);
// opts change the node's options.
func startVersionLB(t *testing.T, targets []string, version string, opts ...func(*node.Options)) *tlsFixture {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	f := &tlsFixture{lbFixture: &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}}
	writeCert(t, dir, "default", "default.test")
	writeCert(t, dir, "a", "a.example.com")
	writeCert(t, dir, "wild", "*.example.com")
	tmpl := strings.Replace(strings.Replace(tlsTemplate, "POLICY", "ELBSecurityPolicy-TLS13-1-2-2021-06", 1),
		"    protocol: HTTP\n    port: 80\n", "    protocol: HTTP\n    protocol_version: "+version+"\n    port: 80\n", 1)
	if version == "GRPC" {
		tmpl = strings.Replace(tmpl, "health_check: {path: /health, ", "health_check: {", 1)
	}
	yaml := renderConfig(t, tmpl, fixtureData{Port: f.port, LogPath: f.logPath, Targets: targets, Idle: 60})
	os.WriteFile(filepath.Join(dir, "albatross.yaml"), []byte(yaml), 0o600)
	f.node = startNode(t, ln, dir, yaml, append([]func(*node.Options){func(o *node.Options) { o.BaseDir = dir }}, opts...)...)
	return f
}

func grpcClient(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return healthpb.NewHealthClient(cc)
}

func TestGRPCTarget(t *testing.T) {
	addr, hs := startGRPCTarget(t)
	f := startVersionLB(t, []string{addr}, "GRPC")
	hc := grpcClient(t, f.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Unary.
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check through the load balancer: %v %v", resp, err)
	}
	// A gRPC error status travels in the trailers.
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("Check of an unknown service: %v, want NotFound", err)
	}
	// Server streaming: updates arrive while the stream stays open.
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch message: %v %v", m, err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("streamed Watch update: %v %v", m, err)
	}
	cancel()

	lines := f.logLines(2)
	for _, e := range lines[:2] {
		if e.Type != "grpcs" || e.ELBStatusCode != 200 || e.TargetStatusCode != 200 || e.Target.String() != addr ||
			!strings.Contains(string(e.Request), "POST https://") || !strings.HasSuffix(string(e.Request), "/grpc.health.v1.Health/Check HTTP/2.0") {
			t.Errorf("log line: type %q status %d/%d target %v request %q", e.Type, e.ELBStatusCode, e.TargetStatusCode, e.Target, e.Request)
		}
	}

	// An HTTP/1.1 request to a GRPC target group is ALB's 464.
	r, body := get(t, tlsClient("a.example.com", false, nil), "https://"+f.addr+"/grpc.health.v1.Health/Check")
	if r.StatusCode != 464 {
		t.Errorf("HTTP/1.1 to a GRPC group: %d %q", r.StatusCode, body)
	}
}

func TestGRPCErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A target that is down: 502, which a gRPC client sees as UNAVAILABLE.
	down := startVersionLB(t, []string{closedPort(t)}, "GRPC")
	_, err := grpcClient(t, down.addr).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("target down: %v, want Unavailable", err)
	}
	if e := down.logLines(1)[0]; e.Type != "grpcs" || e.ELBStatusCode != 502 {
		t.Errorf("logged %q %d", e.Type, e.ELBStatusCode)
	}
	// A gRPC request to an HTTP1 group: 464 (grpc-go reports the HTTP status
	// of a non-200 answer).
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	h1 := startVersionLB(t, []string{target.addr}, "HTTP1")
	_, err = grpcClient(t, h1.addr).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil || !strings.Contains(err.Error(), "464") {
		t.Errorf("gRPC to an HTTP1 group: %v, want the 464", err)
	}
	if len(target.requests()) != 0 {
		t.Error("the HTTP1 target got the gRPC request")
	}
	if e := h1.logLines(1)[0]; e.ELBStatusCode != 464 {
		t.Errorf("logged %d, want 464", e.ELBStatusCode)
	}
}

// An HTTP2 target group gets HTTP/2 (h2c) from HTTP/2 clients.
func TestHTTP2Target(t *testing.T) {
	addr, _ := startGRPCTarget(t) // grpc-go answers any HTTP/2 request
	f := startVersionLB(t, []string{addr}, "HTTP2")
	resp, _ := get(t, tlsClient("a.example.com", true, nil), "https://"+f.addr+"/anything")
	// grpc-go answers a non-gRPC request with 415 over HTTP/2: it came
	// through as HTTP/2.
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("HTTP2 group: %d", resp.StatusCode)
	}
	if e := f.logLines(1)[0]; e.Type != "h2" || e.TargetStatusCode != 415 {
		t.Errorf("logged %q %d", e.Type, e.TargetStatusCode)
	}
}
