package config

import (
	"strings"
	"testing"
)

// TestGRPCHealthCheck checks a GRPC target group's health check keys: the
// GRPC defaults (path /AWS.ALB/healthcheck, grpc_code 12), grpc_code values,
// and each matcher kind refused on the other kind of group.
func TestGRPCHealthCheck(t *testing.T) {
	parse := func(version, hc string) (*Config, error) {
		y := "load_balancers:\n  - name: lb\n    listeners:\n      - {port: 8080, protocol: HTTP, default_actions: [{type: fixed-response, fixed_response: {status_code: 200}}]}\ntarget_groups:\n  - name: g\n    protocol: HTTP\n    protocol_version: " + version + "\n    port: 80\n"
		if hc != "" {
			y += "    health_check: " + hc + "\n"
		}
		return Parse("test.yaml", []byte(y))
	}
	c, err := parse("GRPC", "")
	if err != nil {
		t.Fatal(err)
	}
	if h := c.TargetGroups[0].HealthCheck; h.Path != DefaultGRPCHealthCheckPath || h.GrpcCode != "12" {
		t.Errorf("GRPC defaults: path %q grpc_code %q", h.Path, h.GrpcCode)
	}
	c, err = parse("GRPC", `{path: /pkg.Svc/Check, grpc_code: "0-99"}`)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.TargetGroups[0].HealthCheck; h.Path != "/pkg.Svc/Check" || h.GrpcCode != "0-99" {
		t.Errorf("GRPC set: path %q grpc_code %q", h.Path, h.GrpcCode)
	}
	c, err = parse("HTTP2", "")
	if err != nil {
		t.Fatal(err)
	}
	if h := c.TargetGroups[0].HealthCheck; h.Path != "/" || h.GrpcCode != "" || h.Matcher != "200" {
		t.Errorf("HTTP2 defaults: path %q grpc_code %q matcher %q", h.Path, h.GrpcCode, h.Matcher)
	}
	for _, tc := range []struct{ version, hc, want string }{
		{"GRPC", `{matcher: "200"}`, "use grpc_code"},
		{"HTTP1", `{grpc_code: "12"}`, "grpc_code applies only to target groups with protocol_version GRPC"},
		{"HTTP2", `{grpc_code: "12"}`, "grpc_code applies only"},
		{"GRPC", `{grpc_code: "100"}`, "gRPC status codes from 0 to 99"},
		{"GRPC", `{grpc_code: "12-0"}`, "from low to high"},
		{"GRPC", `{grpc_code: "012"}`, "gRPC status codes"},
		{"GRPC", `{grpc_code: "-1"}`, "gRPC status codes"},
	} {
		_, err := parse(tc.version, tc.hc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "health_check") {
			t.Errorf("%s %s: %v, want an error with %q", tc.version, tc.hc, err, tc.want)
		}
	}
}
