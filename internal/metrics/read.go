package metrics

import "strconv"

// LoadBalancerTotals are a load balancer's counters at one moment, for the
// dashboard. Counts are totals since the load balancer appeared; the reader
// derives rates from two readings.
type LoadBalancerTotals struct {
	ID             string `json:"id"`
	LoggedRequests uint64 `json:"logged_requests"`
	ProcessedBytes uint64 `json:"processed_bytes"`
	NewConnections uint64 `json:"new_connections"`
	Rejected       uint64 `json:"rejected_connections"`
	ActiveConns    int64  `json:"active_connections"`
	// ELBCodes counts ELB-generated responses by code ("502").
	ELBCodes map[string]uint64 `json:"elb_codes"`
	// Desync counts classified requests by classification.
	Desync map[string]uint64 `json:"desync"`
	Groups []GroupTotals     `json:"target_groups"`
}

// GroupTotals are a target group's counters within a load balancer.
type GroupTotals struct {
	ID           string          `json:"id"`
	ARN          string          `json:"arn"`
	ResponseTime HistogramTotals `json:"target_response_time"`
	Targets      []TargetTotals  `json:"targets"`
	// HealthyHosts and UnhealthyHosts are nil when health is not checked.
	HealthyHosts   *int `json:"healthy_hosts,omitempty"`
	UnhealthyHosts *int `json:"unhealthy_hosts,omitempty"`
}

// HistogramTotals is a histogram reading: cumulative counts per upper bound.
type HistogramTotals struct {
	// Bounds are the upper bounds in seconds; Cumulative[i] counts observations
	// at most Bounds[i]; Count counts all of them (the +Inf bucket).
	Bounds     []float64 `json:"bounds"`
	Cumulative []uint64  `json:"cumulative"`
	Count      uint64    `json:"count"`
	SumSeconds float64   `json:"sum_seconds"`
}

// TargetTotals are one target's counters within a group.
type TargetTotals struct {
	Target           string `json:"target"`
	Requests         uint64 `json:"requests"`
	ConnectionErrors uint64 `json:"connection_errors"`
	// Codes counts target responses by class ("2XX").
	Codes           map[string]uint64 `json:"codes"`
	OpenConnections int64             `json:"open_connections"`
}

// Totals reads the counters of the configuration in force.
func (r *Registry) Totals() []LoadBalancerTotals {
	var out []LoadBalancerTotals
	for _, lb := range r.Current() {
		c := lb.c
		lt := LoadBalancerTotals{
			ID:             lb.ID,
			LoggedRequests: c.requests(),
			ProcessedBytes: c.processedBytes(),
			NewConnections: c.newConns.Load(),
			Rejected:       c.rejectedConns.Load(),
			ActiveConns:    c.activeConns.Load(),
			ELBCodes:       make(map[string]uint64),
			Desync:         make(map[string]uint64),
			Groups:         []GroupTotals{},
		}
		for code, n := range lb.ELBCodeCounts() {
			lt.ELBCodes[strconv.Itoa(code)] = n
		}
		for i, name := range classifications {
			lt.Desync[name] = c.desync[i].Load()
		}
		for _, g := range lb.Groups {
			count, sum, cum := readHistogram(&g.c.responseTime)
			gt := GroupTotals{
				ID:  g.ID,
				ARN: g.ARN,
				ResponseTime: HistogramTotals{
					Bounds:     make([]float64, len(ResponseTimeBuckets)),
					Cumulative: cum[:],
					Count:      count,
					SumSeconds: sum.Seconds(),
				},
				Targets: []TargetTotals{},
			}
			for i, b := range ResponseTimeBuckets {
				gt.ResponseTime.Bounds[i] = b.Seconds()
			}
			if h, u, ok := g.HostCounts(); ok {
				gt.HealthyHosts, gt.UnhealthyHosts = &h, &u
			}
			for _, t := range g.Targets {
				tt := TargetTotals{
					Target:           t.label,
					Requests:         t.c.requests(),
					ConnectionErrors: t.c.connErrors.Load(),
					Codes:            make(map[string]uint64),
				}
				for class := 1; class < targetClasses; class++ {
					tt.Codes[strconv.Itoa(class)+"XX"] = t.c.class(class)
				}
				if t.pool != nil {
					tt.OpenConnections = t.pool.Open()
				}
				gt.Targets = append(gt.Targets, tt)
			}
			lt.Groups = append(lt.Groups, gt)
		}
		out = append(out, lt)
	}
	return out
}
