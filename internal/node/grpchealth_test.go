package node_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestGRPCHealthChecks runs a GRPC target group with health checks on: a real
// gRPC server passes the gRPC check (it answers the unimplemented
// /AWS.ALB/healthcheck with status 12, the default matcher) and turns healthy,
// a target that speaks only HTTP/1.1 (and would pass an HTTP/1.1 check) turns
// unhealthy, and gRPC calls through the load balancer reach the healthy one.
func TestGRPCHealthChecks(t *testing.T) {
	grpcAddr, _ := startGRPCTarget(t)
	h1 := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startVersionLB(t, []string{grpcAddr, h1.addr}, "GRPC", withChecks(50*time.Millisecond))

	state := func(addr string) health.TargetHealth {
		th, _ := f.node.Health().Lookup("app", netip.MustParseAddrPort(addr))
		return th
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, h := state(grpcAddr), state(h1.addr)
		if g.State == health.StateHealthy && h.State == health.StateUnhealthy {
			if h.Reason != health.ReasonFailedHealthChecks {
				t.Errorf("HTTP/1.1-only target: reason %s, want %s", h.Reason, health.ReasonFailedHealthChecks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC target %s/%s, HTTP/1.1 target %s/%s; want healthy and unhealthy", g.State, g.Reason, h.State, h.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}

	hc := grpcClient(t, f.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const calls = 6
	for i := 0; i < calls; i++ {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("call %d through the load balancer: %v %v", i, resp, err)
		}
	}
	for i, e := range f.logLines(calls) {
		if e.Type != "grpcs" || e.ELBStatusCode != 200 || e.Target.String() != grpcAddr {
			t.Errorf("call %d: type %q status %d target %v, want grpcs 200 %s", i, e.Type, e.ELBStatusCode, e.Target, grpcAddr)
		}
	}
	if g := state(grpcAddr); g.State != health.StateHealthy {
		t.Errorf("gRPC target after the calls: %s/%s", g.State, g.Reason)
	}
}
