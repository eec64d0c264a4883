package admin

import (
	"encoding/json"
	"net/http"

	"github.com/albatross-lb/albatross/internal/health"
)

// TargetHealthSource reports the health of every registered target;
// *health.Registry implements it.
type TargetHealthSource interface {
	TargetHealth() []health.TargetHealth
}

// targetHealthJSON is one target in GET /v1/target-health. The first six
// fields are the documented contract; the rest are additions.
type targetHealthJSON struct {
	LoadBalancer     string `json:"load_balancer"`
	TargetGroup      string `json:"target_group"`
	Target           string `json:"target"`
	State            string `json:"state"`
	Reason           string `json:"reason"`
	Description      string `json:"description"`
	HealthCheckPort  int    `json:"health_check_port"`
	ConnectionErrors uint64 `json:"connection_errors"`
	InFlight         int64  `json:"in_flight"`
}

// serveTargetHealth answers GET /v1/target-health:
//
//	{"targets": [{"load_balancer": "web", "target_group": "app",
//	  "target": "10.0.0.1:80", "state": "healthy", "reason": "",
//	  "description": "", ...}]}
//
// ordered by load balancer, target group and target; reason and description
// are empty for a healthy target without connection errors. In a cluster,
// "node" names the node whose health checks these are: each node checks
// every target on its own, as ALB's nodes do.
func serveTargetHealth(src TargetHealthSource, node string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		all := src.TargetHealth()
		out := struct {
			Node    string             `json:"node,omitempty"`
			Targets []targetHealthJSON `json:"targets"`
		}{Node: node, Targets: make([]targetHealthJSON, 0, len(all))}
		for _, th := range all {
			out.Targets = append(out.Targets, targetHealthJSON{
				LoadBalancer:     th.LoadBalancer,
				TargetGroup:      th.TargetGroup,
				Target:           th.Target.String(),
				State:            th.State.String(),
				Reason:           string(th.Reason),
				Description:      th.Description,
				HealthCheckPort:  int(th.HealthCheckPort),
				ConnectionErrors: th.ConnectionErrors,
				InFlight:         th.InFlight,
			})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	}
}
