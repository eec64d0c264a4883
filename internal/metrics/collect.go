package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "albatross"

// Label names, after CloudWatch's dimensions (LoadBalancer, TargetGroup) and
// what Prometheus users expect (target, code).
const (
	LabelLoadBalancer   = "load_balancer"
	LabelTargetGroup    = "target_group"
	LabelTarget         = "target"
	LabelCode           = "code"
	LabelClassification = "classification"
)

// ELBCodes are the status codes the load balancer generates (alb-data-plane.md
// §2), reported even while zero so that rates and alerts have a series from the
// start. Other ELB-generated codes appear once counted.
var ELBCodes = []int{400, 403, 405, 408, 413, 414, 460, 463, 464, 500, 501, 502, 503, 504, 505, 561}

// Descriptions of the metrics, each named after its CloudWatch metric. The table
// in docs/metrics.md is the user-facing list; keep the two in step.
var (
	lbLabels     = []string{LabelLoadBalancer}
	groupLabels  = []string{LabelLoadBalancer, LabelTargetGroup}
	targetLabels = []string{LabelLoadBalancer, LabelTargetGroup, LabelTarget}

	descLoggedRequests = newDesc("logged_request_count_total",
		"Requests the load balancer finished, whatever their outcome: one per access log entry (CloudWatch RequestCount counts only those with a target).", lbLabels)
	descRequestCount = newDesc("request_count_total",
		"RequestCount: requests for which a target was chosen, by target.", targetLabels)
	descELBCodes = newDesc("httpcode_elb_count_total",
		"HTTPCode_ELB_<code>_Count: responses the load balancer generated itself, by status code (460: the client closed the connection first).", []string{LabelLoadBalancer, LabelCode})
	descTargetCodes = newDesc("httpcode_target_count_total",
		"HTTPCode_Target_<class>_Count: responses from targets, by status class (2XX..5XX).", append(append([]string(nil), targetLabels...), LabelCode))
	descResponseTime = newDesc("target_response_time_seconds",
		"TargetResponseTime: seconds from sending the request to a target to receiving its response head (access log target_processing_time).", groupLabels)
	descTargetConnErrors = newDesc("target_connection_error_count_total",
		"TargetConnectionErrorCount: connections to targets that could not be established.", targetLabels)
	descActiveConns = newDesc("active_connection_count",
		"ActiveConnectionCount (client side): client connections open to the load balancer.", lbLabels)
	descTargetActiveConns = newDesc("target_active_connection_count",
		"ActiveConnectionCount (target side): connections open from the load balancer node to the target, idle or in use.", targetLabels)
	descNewConns = newDesc("new_connection_count_total",
		"NewConnectionCount (client side): client connections accepted.", lbLabels)
	descRejectedConns = newDesc("rejected_connection_count_total",
		"RejectedConnectionCount: client connections the load balancer could not serve (accept failed for lack of resources, or the node was shutting down).", lbLabels)
	descProcessedBytes = newDesc("processed_bytes_total",
		"ProcessedBytes: bytes received from and sent to clients, headers included.", lbLabels)
	descIPv6Bytes = newDesc("ipv6_processed_bytes_total",
		"IPv6ProcessedBytes: ProcessedBytes of IPv6 clients.", lbLabels)
	descIPv6Requests = newDesc("ipv6_request_count_total",
		"IPv6RequestCount: requests from IPv6 clients.", lbLabels)
	descDesync = newDesc("desync_mitigation_mode_non_compliant_request_count_total",
		"DesyncMitigationMode_NonCompliant_Request_Count: requests that do not comply with RFC 7230, by desync classification.", []string{LabelLoadBalancer, LabelClassification})
	descFixedResponses = newDesc("http_fixed_response_count_total",
		"HTTP_Fixed_Response_Count: fixed-response actions that ran.", lbLabels)
	descRedirects = newDesc("http_redirect_count_total",
		"HTTP_Redirect_Count: redirect actions that ran.", lbLabels)
	descClientTLSErrors = newDesc("client_tls_negotiation_error_count_total",
		"ClientTLSNegotiationErrorCount: client TLS handshakes that failed on the load balancer's HTTPS listeners.", lbLabels)
	descHealthy = newDesc("healthy_host_count",
		"HealthyHostCount: registered targets that pass their health checks.", groupLabels)
	descUnhealthy = newDesc("unhealthy_host_count",
		"UnHealthyHostCount: registered targets that fail their health checks.", groupLabels)
	descAnomalous = newDesc("anomalous_host_count",
		"AnomalousHostCount: targets whose error rate is anomalous next to their group's (anomaly detection of weighted_random groups).", groupLabels)
	descMitigated = newDesc("mitigated_host_count",
		"MitigatedHostCount: anomalous targets that get less traffic because load_balancing.algorithm.anomaly_mitigation is on.", groupLabels)
	descLogDrops = newDesc("log_lines_dropped_total",
		"Lines of a log (access, connection, health_check) dropped before they reached their store: the S3 spool was full.", []string{"log"})
	descStoreUp = newDesc("store_up",
		"1 while the node reaches its state store (etcd with --store, else its bbolt file), 0 while it does not: it then serves its last configuration and refuses API writes.", nil)
)

func newDesc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

var allDescs = []*prometheus.Desc{
	descLoggedRequests, descRequestCount, descELBCodes, descTargetCodes, descResponseTime,
	descTargetConnErrors, descActiveConns, descTargetActiveConns, descNewConns, descRejectedConns,
	descProcessedBytes, descIPv6Bytes, descIPv6Requests, descDesync, descFixedResponses, descRedirects,
	descHealthy, descUnhealthy, descAnomalous, descMitigated, descClientTLSErrors, descStoreUp, descLogDrops,
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads the counters of the
// configuration in force.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(descStoreUp, int64(r.storeUp.Load()))
	r.mu.Lock()
	for _, log := range []string{"access", "connection", "health_check"} {
		counter(descLogDrops, r.logDrops[log], log)
	}
	r.mu.Unlock()
	for _, lb := range r.Current() {
		c := lb.c
		counter(descLoggedRequests, c.requests(), lb.ID)
		counter(descProcessedBytes, c.processedBytes(), lb.ID)
		counter(descIPv6Bytes, c.ipv6Bytes.Load(), lb.ID)
		counter(descIPv6Requests, c.ipv6Requests.Load(), lb.ID)
		counter(descFixedResponses, c.fixedResponses.Load(), lb.ID)
		counter(descRedirects, c.redirects.Load(), lb.ID)
		counter(descNewConns, c.newConns.Load(), lb.ID)
		counter(descRejectedConns, c.rejectedConns.Load(), lb.ID)
		gauge(descActiveConns, c.activeConns.Load(), lb.ID)
		if lb.TLSErrors != nil {
			counter(descClientTLSErrors, lb.TLSErrors.Load(), lb.ID)
		}
		for i, name := range classifications {
			counter(descDesync, c.desync[i].Load(), lb.ID, name)
		}
		for code, n := range lb.ELBCodeCounts() {
			counter(descELBCodes, n, lb.ID, strconv.Itoa(code))
		}
		for _, g := range lb.Groups {
			count, sum, buckets := readHistogram(&g.c.responseTime)
			cum := make(map[float64]uint64, len(ResponseTimeBuckets))
			for i, b := range ResponseTimeBuckets {
				cum[b.Seconds()] = buckets[i]
			}
			ch <- prometheus.MustNewConstHistogram(descResponseTime, count, sum.Seconds(), cum, lb.ID, g.ID)
			if healthy, unhealthy, ok := g.HostCounts(); ok {
				gauge(descHealthy, int64(healthy), lb.ID, g.ID)
				gauge(descUnhealthy, int64(unhealthy), lb.ID, g.ID)
			}
			if anomalous, mitigated, ok := g.AnomalyCounts(); ok {
				gauge(descAnomalous, int64(anomalous), lb.ID, g.ID)
				gauge(descMitigated, int64(mitigated), lb.ID, g.ID)
			}
			for _, t := range g.Targets {
				tc := t.c
				counter(descRequestCount, tc.requests(), lb.ID, g.ID, t.label)
				counter(descTargetConnErrors, tc.connErrors.Load(), lb.ID, g.ID, t.label)
				for class := 1; class < targetClasses; class++ {
					n := tc.class(class)
					if n == 0 && class == 1 {
						continue // 1XX only once a target sent one
					}
					counter(descTargetCodes, n, lb.ID, g.ID, t.label, strconv.Itoa(class)+"XX")
				}
				if t.pool != nil {
					gauge(descTargetActiveConns, t.pool.Open(), lb.ID, g.ID, t.label)
				}
			}
		}
	}
}

// readHistogram returns the count, sum and cumulative bucket counts (one per
// bound of ResponseTimeBuckets) of a sharded histogram. The count is the
// buckets' total, so the two always agree even while requests are observed.
func readHistogram(s *sharded[histogram]) (count uint64, sum durationSum, cum [len(ResponseTimeBuckets)]uint64) {
	for i := range s[0].v.counts {
		for k := range s {
			count += s[k].v.counts[i].Load()
		}
		if i < len(cum) {
			cum[i] = count
		}
	}
	for k := range s {
		sum += durationSum(s[k].v.sum.Load())
	}
	return count, sum, cum
}

// durationSum is a sum of durations in nanoseconds.
type durationSum int64

// Seconds returns the sum in seconds.
func (d durationSum) Seconds() float64 { return float64(d) / 1e9 }

// ELBCodeCounts returns the load balancer's ELB-generated responses by code:
// every code of ELBCodes, and any other code counted at least once.
func (lb *LoadBalancer) ELBCodeCounts() map[int]uint64 {
	out := make(map[int]uint64, len(ELBCodes))
	for _, code := range ELBCodes {
		out[code] = 0
	}
	for code := range lb.c.elb {
		if n := lb.c.elb[code].Load(); n > 0 {
			out[code] = n
		}
	}
	return out
}

// Handler returns the /metrics handler: the registry's metrics and the Go
// runtime's and process's own, in the Prometheus text format (or OpenMetrics or
// protobuf, as the scraper asks).
func (r *Registry) Handler() http.Handler { return r.NodeHandler("") }

// LabelNode is the label that, in a cluster, names the node every series
// of its /metrics comes from.
const LabelNode = "node"

// NodeHandler is Handler with every series labelled node=NAME, for a node of
// a cluster (several nodes scraped into one Prometheus stay apart). An empty
// name adds no label.
func (r *Registry) NodeHandler(node string) http.Handler {
	reg := prometheus.NewRegistry()
	var to prometheus.Registerer = reg
	if node != "" {
		to = prometheus.WrapRegistererWith(prometheus.Labels{LabelNode: node}, reg)
	}
	to.MustRegister(r, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// HostCounts returns how many of the group's targets are healthy and how many
// unhealthy, as ALB's HealthyHostCount and UnHealthyHostCount count them: a
// target that is initial, draining or unused is neither. ok is false when the
// group's health is not checked, so there is nothing to count.
func (g *Group) HostCounts() (healthy, unhealthy int, ok bool) {
	if !g.healthChecked {
		return 0, 0, false
	}
	for _, t := range g.Targets {
		if t.health == nil {
			continue
		}
		switch t.health() {
		case "healthy":
			healthy++
		case "unhealthy":
			unhealthy++
		}
	}
	return healthy, unhealthy, true
}

// AnomalyCounts returns how many of the group's targets the anomaly detector
// judges anomalous and how many of those get less traffic for it, as ALB's
// AnomalousHostCount and MitigatedHostCount count them. ok is false when the
// group has no detector (it is not weighted_random).
func (g *Group) AnomalyCounts() (anomalous, mitigated int, ok bool) {
	for _, t := range g.Targets {
		if t.anomaly == nil {
			continue
		}
		ok = true
		a, m := t.anomaly()
		if a {
			anomalous++
		}
		if m {
			mitigated++
		}
	}
	return anomalous, mitigated, ok
}
