package metrics

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	lbID    = "app/web/0123456789abcdef"
	groupID = "targetgroup/app/fedcba9876543210"
	arn     = "arn:aws:elasticloadbalancing:us-east-1:000000000000:" + groupID
)

var (
	t1 = netip.MustParseAddrPort("127.0.0.1:9001")
	t2 = netip.MustParseAddrPort("127.0.0.1:9002")
)

func bind(r *Registry, targets ...netip.AddrPort) *LoadBalancer {
	g := GroupSpec{ID: groupID, ARN: arn}
	for _, t := range targets {
		g.Targets = append(g.Targets, TargetSpec{Addr: t})
	}
	return r.Bind(lbID, []GroupSpec{g})
}

// forwarded is the entry of a request a target answered.
func forwarded(target netip.AddrPort, status int, took time.Duration) accesslog.Entry {
	return accesslog.Entry{
		ELB: lbID, Client: netip.MustParseAddrPort("127.0.0.1:50000"), Target: target,
		RequestProcessingTime: 0, TargetProcessingTime: took, ResponseProcessingTime: 0,
		ELBStatusCode: status, TargetStatusCode: status, ReceivedBytes: 100, SentBytes: 200,
		TargetGroupARN: arn, ActionsExecuted: "forward",
		Attempts: []accesslog.Attempt{{Target: target, Status: status}},
	}
}

func TestObserveRules(t *testing.T) {
	r := NewRegistry()
	lb := bind(r, t1, t2)
	r.Publish([]*LoadBalancer{lb})

	ok := forwarded(t1, 200, 1500*time.Microsecond)
	lb.Observe(&ok)
	notFound := forwarded(t2, 404, 30*time.Millisecond)
	lb.Observe(&notFound)
	// A connection to t2 that could not be made: 502, target chosen, no attempt.
	refused := accesslog.Entry{ELB: lbID, Client: netip.MustParseAddrPort("[2001:db8::1]:4000"), Target: t2,
		RequestProcessingTime: -1, TargetProcessingTime: -1, ResponseProcessingTime: -1,
		ELBStatusCode: 502, ReceivedBytes: 50, SentBytes: 150, TargetGroupARN: arn, ActionsExecuted: "forward",
		Time: time.Unix(100, 0), Request: []byte("GET http://x:80/refused HTTP/1.1")}
	lb.Observe(&refused)
	// A target that took the request and closed: 502 with an attempt, not a
	// connection error.
	closed := refused
	closed.Client = netip.MustParseAddrPort("127.0.0.1:1")
	closed.Attempts = []accesslog.Attempt{{Target: t1}}
	closed.Target = t1
	closed.Time = time.Unix(101, 0)
	lb.Observe(&closed)
	// Rejected before routing; a classified request; actions of other rules.
	lb.Observe(&accesslog.Entry{ELB: lbID, ELBStatusCode: 400, RequestProcessingTime: -1, TargetProcessingTime: -1,
		ResponseProcessingTime: -1, Classification: "Severe", ClassificationReason: "BadContentLength", ReceivedBytes: 7})
	lb.Observe(&accesslog.Entry{ELB: lbID, ELBStatusCode: 200, TargetProcessingTime: -1, ActionsExecuted: "fixed-response", Classification: "Acceptable"})
	lb.Observe(&accesslog.Entry{ELB: lbID, ELBStatusCode: 301, TargetProcessingTime: -1, ActionsExecuted: "waf,redirect"})

	tot := r.Totals()
	if len(tot) != 1 {
		t.Fatalf("%d load balancers, want 1", len(tot))
	}
	lt := tot[0]
	if lt.LoggedRequests != 7 {
		t.Errorf("logged requests %d, want 7", lt.LoggedRequests)
	}
	if want := uint64(300 + 300 + 200 + 200 + 7); lt.ProcessedBytes != want {
		t.Errorf("processed bytes %d, want %d", lt.ProcessedBytes, want)
	}
	for code, want := range map[string]uint64{"502": 2, "400": 1, "200": 1, "301": 1, "503": 0} {
		if lt.ELBCodes[code] != want {
			t.Errorf("ELB %s: %d, want %d", code, lt.ELBCodes[code], want)
		}
	}
	if lt.ELBCodes["404"] != 0 {
		t.Errorf("a target's 404 counted as ELB-generated")
	}
	if lt.Desync["Severe"] != 1 || lt.Desync["Acceptable"] != 1 || lt.Desync["Ambiguous"] != 0 {
		t.Errorf("desync %v, want Severe 1 Acceptable 1", lt.Desync)
	}
	c := lb.c
	if c.ipv6Requests.Load() != 1 || c.ipv6Bytes.Load() != 200 {
		t.Errorf("IPv6 requests %d bytes %d, want 1 and 200", c.ipv6Requests.Load(), c.ipv6Bytes.Load())
	}
	if c.fixedResponses.Load() != 1 || c.redirects.Load() != 1 {
		t.Errorf("fixed responses %d redirects %d, want 1 and 1", c.fixedResponses.Load(), c.redirects.Load())
	}
	g := lt.Groups[0]
	byTarget := map[string]TargetTotals{}
	for _, tt := range g.Targets {
		byTarget[tt.Target] = tt
	}
	if tt := byTarget[t1.String()]; tt.Requests != 2 || tt.Codes["2XX"] != 1 || tt.ConnectionErrors != 0 {
		t.Errorf("target 1: %+v, want 2 requests, one 2XX, no connection error", tt)
	}
	if tt := byTarget[t2.String()]; tt.Requests != 2 || tt.Codes["4XX"] != 1 || tt.ConnectionErrors != 1 {
		t.Errorf("target 2: %+v, want 2 requests, one 4XX, one connection error", tt)
	}
	// 1.5 ms is logged as 0.001 and counted so; 30 ms as 0.030.
	h := g.ResponseTime
	if h.Count != 2 || h.SumSeconds != 0.031 {
		t.Errorf("response time count %d sum %g, want 2 and 0.031", h.Count, h.SumSeconds)
	}
	if h.Bounds[0] != 0.001 || h.Cumulative[0] != 1 || h.Cumulative[5] != 2 {
		t.Errorf("buckets %v %v, want one at ≤1 ms and both by ≤50 ms", h.Bounds, h.Cumulative)
	}
	errs := r.RecentErrors(10)
	if len(errs) != 2 || errs[0].Time != closed.Time || errs[1].Request != "GET http://x:80/refused HTTP/1.1" || errs[1].TargetText != t2.String() {
		t.Errorf("recent errors %+v, want the two 502s, newest first", errs)
	}
}

func TestObserveAllocatesNothing(t *testing.T) {
	r := NewRegistry()
	targets := []netip.AddrPort{t1, t2}
	for i := range 20 { // beyond linearLookup: the map path
		targets = append(targets, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), uint16(1000+i)))
	}
	for _, n := range []int{2, len(targets)} {
		lb := bind(r, targets[:n]...)
		ok := forwarded(targets[n-1], 200, time.Millisecond)
		failed := accesslog.Entry{ELB: lbID, Target: t1, TargetGroupARN: arn, ELBStatusCode: 502, TargetProcessingTime: -1,
			Request: []byte("GET http://x:80/ HTTP/1.1"), Classification: "Ambiguous", ActionsExecuted: "forward"}
		allocs := testing.AllocsPerRun(1000, func() {
			lb.Observe(&ok)
			lb.Observe(&failed)
			lb.ConnOpened()
			lb.ConnClosed()
		})
		if allocs != 0 {
			t.Errorf("%d targets: %g allocations per request, want 0", n, allocs)
		}
		if got := lb.c.elb[502].Load(); got == 0 {
			t.Fatal("nothing counted")
		}
	}
}

func TestCountersSurviveRebindAndPublishForgets(t *testing.T) {
	r := NewRegistry()
	lb := bind(r, t1, t2)
	r.Publish([]*LoadBalancer{lb})
	e := forwarded(t1, 200, time.Millisecond)
	lb.Observe(&e)
	lb.ConnOpened()

	// A reload that keeps t1 and drops t2.
	lb2 := bind(r, t1)
	r.Publish([]*LoadBalancer{lb2})
	lb2.Observe(&e)
	lb.ConnClosed() // the connection opened before the reload
	lt := r.Totals()[0]
	if lt.LoggedRequests != 2 || lt.ActiveConns != 0 || lt.NewConnections != 1 {
		t.Errorf("after reload: %d requests, %d active, %d new; want 2, 0, 1", lt.LoggedRequests, lt.ActiveConns, lt.NewConnections)
	}
	if n := len(lt.Groups[0].Targets); n != 1 || lt.Groups[0].Targets[0].Requests != 2 {
		t.Errorf("targets after reload %+v, want t1 alone with 2 requests", lt.Groups[0].Targets)
	}
	if len(r.targets) != 1 {
		t.Errorf("registry keeps %d targets, want 1", len(r.targets))
	}
	// Adding t2 back starts it from zero.
	lb3 := bind(r, t1, t2)
	r.Publish([]*LoadBalancer{lb3})
	for _, tt := range r.Totals()[0].Groups[0].Targets {
		if tt.Target == t2.String() && tt.Requests != 0 {
			t.Errorf("t2 came back with %d requests, want 0", tt.Requests)
		}
	}
	// A configuration without the load balancer forgets it.
	r.Publish(nil)
	if len(r.Totals()) != 0 || len(r.lbs) != 0 || len(r.groups) != 0 {
		t.Errorf("after removal: %d totals, %d lbs, %d groups kept", len(r.Totals()), len(r.lbs), len(r.groups))
	}
}

func TestNilBindingCountsNothing(t *testing.T) {
	var lb *LoadBalancer
	e := forwarded(t1, 200, time.Millisecond)
	lb.Observe(&e)
	lb.ConnOpened()
	lb.ConnClosed()
	lb.ConnRejected()
}

func TestRecentErrorsKeepTheLatest(t *testing.T) {
	r := NewRegistry()
	lb := bind(r, t1)
	r.Publish([]*LoadBalancer{lb})
	long := make([]byte, 2*maxRecentRequest)
	for i := range long {
		long[i] = 'a'
	}
	for i := range recentSize + 10 {
		e := accesslog.Entry{ELB: lbID, ELBStatusCode: 504, Time: time.Unix(int64(i), 0), Request: long, TargetProcessingTime: -1}
		lb.Observe(&e)
	}
	ok := forwarded(t1, 200, 0)
	lb.Observe(&ok) // not an error
	four := accesslog.Entry{ELB: lbID, ELBStatusCode: 404, Time: time.Unix(1000, 0)}
	lb.Observe(&four) // an ELB 4XX other than 460 is not listed
	errs := r.RecentErrors(1000)
	if len(errs) != recentSize {
		t.Fatalf("%d recent errors, want %d", len(errs), recentSize)
	}
	if errs[0].Time != time.Unix(recentSize+9, 0) || errs[recentSize-1].Time != time.Unix(10, 0) {
		t.Errorf("kept %v..%v, want the latest %d", errs[0].Time, errs[recentSize-1].Time, recentSize)
	}
	if len(errs[0].Request) != maxRecentRequest {
		t.Errorf("request kept %d bytes, want %d", len(errs[0].Request), maxRecentRequest)
	}
}

func TestHostCounts(t *testing.T) {
	r := NewRegistry()
	states := map[netip.AddrPort]string{t1: "healthy", t2: "unhealthy"}
	t3 := netip.MustParseAddrPort("127.0.0.1:9003")
	states[t3] = "draining"
	var specs []TargetSpec
	for _, a := range []netip.AddrPort{t1, t2, t3} {
		specs = append(specs, TargetSpec{Addr: a, Health: func() string { return states[a] }})
	}
	lb := r.Bind(lbID, []GroupSpec{
		{ID: groupID, ARN: arn, Targets: specs, HealthChecked: true},
		{ID: "targetgroup/empty/1", ARN: "arn:empty", HealthChecked: true},
		{ID: "targetgroup/unchecked/2", ARN: "arn:unchecked", Targets: []TargetSpec{{Addr: t1}}},
	})
	if h, u, ok := lb.Groups[0].HostCounts(); !ok || h != 1 || u != 1 {
		t.Errorf("checked group: %d healthy %d unhealthy (%v), want 1 and 1 (draining is neither)", h, u, ok)
	}
	states[t3] = "healthy" // read when collected, not when bound
	if h, _, _ := lb.Groups[0].HostCounts(); h != 2 {
		t.Errorf("after t3 turned healthy: %d healthy, want 2", h)
	}
	if h, u, ok := lb.Groups[1].HostCounts(); !ok || h != 0 || u != 0 {
		t.Errorf("empty checked group: %d %d %v, want 0 0 true", h, u, ok)
	}
	if _, _, ok := lb.Groups[2].HostCounts(); ok {
		t.Error("a group whose health is not checked reports host counts")
	}
}

func TestClientTLSNegotiationErrorsServed(t *testing.T) {
	r := NewRegistry()
	lb := bind(r, t1)
	lb.TLSErrors = new(atomic.Uint64)
	lb.TLSErrors.Add(3)
	r.Publish([]*LoadBalancer{lb})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != Namespace+"_client_tls_negotiation_error_count_total" {
			continue
		}
		m := f.GetMetric()
		if len(m) != 1 || m[0].GetCounter().GetValue() != 3 || m[0].GetLabel()[0].GetValue() != lbID {
			t.Fatalf("client TLS negotiation errors served as %v, want 3 for %s", m, lbID)
		}
		return
	}
	t.Fatal("client TLS negotiation error count not served")
}

// TestAnomalyCountsServed: AnomalousHostCount and MitigatedHostCount count
// the detector's verdicts when collected, and a group without a detector has
// neither series.
func TestAnomalyCountsServed(t *testing.T) {
	r := NewRegistry()
	verdict := map[netip.AddrPort][2]bool{t1: {true, true}, t2: {true, false}}
	var specs []TargetSpec
	for _, a := range []netip.AddrPort{t1, t2, netip.MustParseAddrPort("127.0.0.1:9003")} {
		specs = append(specs, TargetSpec{Addr: a, Anomaly: func() (bool, bool) { v := verdict[a]; return v[0], v[1] }})
	}
	lb := r.Bind(lbID, []GroupSpec{
		{ID: groupID, ARN: arn, Targets: specs, HealthChecked: true},
		{ID: "targetgroup/plain/2", ARN: "arn:plain", Targets: []TargetSpec{{Addr: t1}}, HealthChecked: true},
	})
	r.Publish([]*LoadBalancer{lb})
	gather := func() map[string]float64 {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(r)
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "target_group" {
						out[f.GetName()+" "+l.GetValue()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	got := gather()
	if got[Namespace+"_anomalous_host_count "+groupID] != 2 || got[Namespace+"_mitigated_host_count "+groupID] != 1 {
		t.Errorf("anomalous/mitigated: %v, want 2 and 1", got)
	}
	if _, ok := got[Namespace+"_anomalous_host_count targetgroup/plain/2"]; ok {
		t.Errorf("a group without a detector reports anomalous hosts: %v", got)
	}
	verdict[t1] = [2]bool{false, false} // read when collected
	if got := gather(); got[Namespace+"_anomalous_host_count "+groupID] != 1 || got[Namespace+"_mitigated_host_count "+groupID] != 0 {
		t.Errorf("after t1 recovered: %v, want 1 and 0", got)
	}
}
