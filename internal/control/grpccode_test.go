package control

import (
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
)

// TestCompileGrpcCode checks that a GRPC group's gRPC matcher, kept in the
// record as the API keeps it, reaches the health check the node runs, with
// AWS's default 12, and that other groups carry none.
func TestCompileGrpcCode(t *testing.T) {
	m := &Model{TargetGroups: map[string]*TargetGroup{
		"a": {ID: "a", Name: "set", Seq: 1, Protocol: "HTTP", Port: 80, ProtocolVersion: config.ProtocolVersionGRPC, HealthCheck: config.DefaultHealthCheck(), GrpcCode: "0-99"},
		"b": {ID: "b", Name: "default", Seq: 2, Protocol: "HTTP", Port: 80, ProtocolVersion: config.ProtocolVersionGRPC, HealthCheck: config.DefaultHealthCheck()},
		"c": {ID: "c", Name: "h2", Seq: 3, Protocol: "HTTP", Port: 80, ProtocolVersion: config.ProtocolVersionHTTP2, HealthCheck: config.DefaultHealthCheck(), GrpcCode: "stale"},
	}}
	cfg, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"set": "0-99", "default": "12", "h2": ""}
	for _, tg := range cfg.TargetGroups {
		if got := tg.HealthCheck.GrpcCode; got != want[tg.Name] {
			t.Errorf("group %s: grpc_code %q, want %q", tg.Name, got, want[tg.Name])
		}
	}
	if len(cfg.TargetGroups) != 3 {
		t.Errorf("%d groups compiled", len(cfg.TargetGroups))
	}
}
