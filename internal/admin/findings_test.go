package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

func TestConfigFindings(t *testing.T) {
	// Not a configuration Parse would return (it rejects both problems), but one
	// that could come from another source: the API or a hand-built model.
	cfg := &config.Config{
		LoadBalancers: []config.LoadBalancer{{
			Name:      "web",
			Attrs:     config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second},
			Listeners: []config.Listener{{Port: 80, DefaultActions: []config.Action{{Type: "forward", TargetGroup: "app"}, {Type: "forward", TargetGroup: "api"}}}},
		}},
		TargetGroups: []config.TargetGroup{
			{Name: "app", HealthCheck: config.HealthCheck{TimeoutSeconds: 10, IntervalSeconds: 5},
				Attrs: config.TargetGroupAttributes{TargetIdleTimeout: 90 * time.Second}},
			{Name: "api", Attrs: config.TargetGroupAttributes{TargetIdleTimeout: 20 * time.Second},
				HealthCheck: config.HealthCheck{TimeoutSeconds: 5, IntervalSeconds: 30}},
		},
	}
	fs := configFindings(cfg)
	var text []string
	for _, f := range fs {
		text = append(text, f.Severity+" "+f.Subject+": "+f.Message)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		"warning target_groups[0].health_check.timeout_seconds: health_check.timeout_seconds (10s) must be smaller than health_check.interval_seconds (5s)",
		"warning target_groups[0].attributes.target_keep_alive.idle_timeout_seconds: load balancer \"web\"",
		"info target group \"api\": idle connections to these targets are kept up to 20s (target_keep_alive.idle_timeout_seconds)",
		"info target group \"app\": idle connections to these targets are kept up to 60s (idle_timeout.timeout_seconds of load balancer \"web\")",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
	if len(fs) != 4 {
		t.Errorf("%d findings, want 4:\n%s", len(fs), all)
	}
}
