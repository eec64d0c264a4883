package admin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/metrics"
)

// scrape fetches /metrics and flattens it: one value per series, keyed
// `name{label="value",...}` with labels sorted; histograms become their
// _bucket, _count and _sum series as in the text format.
func (s *stack) scrape() map[string]float64 {
	s.t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(s.get("/metrics")))
	if err != nil {
		s.t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[seriesKey(name, labels)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[seriesKey(name, labels)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[seriesKey(name+"_count", labels)] = float64(h.GetSampleCount())
				out[seriesKey(name+"_sum", labels)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[seriesKey(name+"_bucket", with(labels, "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

func with(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range labels {
		out[a] = b
	}
	return out
}

func seriesKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// fromLog computes, from access log lines alone, the value every request metric
// must have: the CloudWatch definitions applied to the logged fields.
func fromLog(entries []accesslog.Entry) map[string]float64 {
	const ns = metrics.Namespace + "_"
	out := map[string]float64{}
	for _, e := range entries {
		lb := map[string]string{"load_balancer": e.ELB}
		out[seriesKey(ns+"logged_request_count_total", lb)]++
		out[seriesKey(ns+"processed_bytes_total", lb)] += float64(e.ReceivedBytes + e.SentBytes)
		if e.Classification != "" {
			out[seriesKey(ns+"desync_mitigation_mode_non_compliant_request_count_total", with(lb, "classification", e.Classification))]++
		}
		if strings.Contains(e.ActionsExecuted, "fixed-response") {
			out[seriesKey(ns+"http_fixed_response_count_total", lb)]++
		}
		if e.TargetStatusCode == 0 && e.ELBStatusCode != 0 {
			out[seriesKey(ns+"httpcode_elb_count_total", with(lb, "code", strconv.Itoa(e.ELBStatusCode)))]++
		}
		if !e.Target.IsValid() {
			continue
		}
		group := e.TargetGroupARN[strings.LastIndexByte(e.TargetGroupARN, ':')+1:]
		tl := with(with(lb, "target_group", group), "target", e.Target.String())
		out[seriesKey(ns+"request_count_total", tl)]++
		if e.TargetStatusCode != 0 {
			out[seriesKey(ns+"httpcode_target_count_total", with(tl, "code", strconv.Itoa(e.TargetStatusCode/100)+"XX"))]++
		}
		if e.TargetProcessingTime >= 0 {
			gl := with(lb, "target_group", group)
			out[seriesKey(ns+"target_response_time_seconds_count", gl)]++
			out[seriesKey(ns+"target_response_time_seconds_sum", gl)] += e.TargetProcessingTime.Seconds()
			for _, b := range metrics.ResponseTimeBuckets {
				if e.TargetProcessingTime <= b {
					out[seriesKey(ns+"target_response_time_seconds_bucket", with(gl, "le", strconv.FormatFloat(b.Seconds(), 'g', -1, 64)))]++
				}
			}
			out[seriesKey(ns+"target_response_time_seconds_bucket", with(gl, "le", "+Inf"))]++
		}
	}
	return out
}

// derivedFamilies are the metrics fromLog computes.
var derivedFamilies = []string{
	"logged_request_count_total", "processed_bytes_total", "httpcode_elb_count_total", "http_fixed_response_count_total",
	"desync_mitigation_mode_non_compliant_request_count_total",
	"request_count_total", "httpcode_target_count_total", "target_response_time_seconds_",
}

func isDerived(key string) bool {
	for _, f := range derivedFamilies {
		if strings.HasPrefix(key, metrics.Namespace+"_"+f) {
			return true
		}
	}
	return false
}

// TestMetricsAgreeWithAccessLog sends a scripted mix of requests that produces
// every status code the load balancer generates here (400, 405, 408, 460, 463,
// 502 both ways, 503, 504, and a fixed response's 418) beside target 2XX, 4XX
// and 5XX through a default and a rule's target group, then checks that
// every request metric on /metrics equals what the access log lines say, series
// by series, and that the series the log cannot show (connection errors,
// connections) are right too.
func TestMetricsAgreeWithAccessLog(t *testing.T) {
	t.Parallel()
	s := startStack(t)

	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	expectStatus := func(c *http.Client, method, url string, body string, want int) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, url, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
		}
	}
	web, down, empty := 0, 0, 0
	// The slow ones first, in parallel: 408 and 504 each wait for the 1 s idle
	// timeout.
	web += 3
	run(func() {
		if raw := s.raw("web", "GET /ok HTTP/1.1\r\nHost: x\r\n", 10*time.Second); !strings.HasPrefix(raw, "HTTP/1.1 408 ") {
			t.Errorf("partial head: %q, want 408", raw)
		}
	})
	run(func() { expectStatus(&http.Client{}, "GET", s.url("web", "/hang"), "", 504) })
	run(func() {
		c := &http.Client{Timeout: 300 * time.Millisecond}
		if _, err := c.Get(s.url("web", "/hang")); err == nil {
			t.Error("/hang with a 300 ms client: answered, want the client to give up (460)")
		}
	})
	client := &http.Client{}
	for i := range 20 {
		expectStatus(client, "GET", s.url("web", fmt.Sprintf("/ok/%d", i)), "", 200)
	}
	expectStatus(client, "POST", s.url("web", "/ok/upload"), strings.Repeat("x", 5000), 200)
	for range 3 {
		expectStatus(client, "GET", s.url("web", "/ok/canary"), "", 200)
		expectStatus(client, "GET", s.url("web", "/fixed"), "", 418)
	}
	web += 6
	for range 4 {
		expectStatus(client, "GET", s.url("web", "/missing"), "", 404)
		expectStatus(client, "GET", s.url("web", "/fail"), "", 500)
	}
	for range 3 {
		expectStatus(client, "GET", s.url("web", "/close"), "", 502)
	}
	web += 21 + 8 + 3
	checks := []struct{ req, status string }{
		{"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
		{"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: " + strings.Repeat("10.0.0.1, ", 30) + "10.0.0.1\r\n\r\n", "463"},
		// Classified by the desync mitigation (defensive mode forwards both):
		// Acceptable (GET with Content-Length: 0), Ambiguous (a repeated
		// Content-Length).
		{"GET /ok/acceptable HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "200"},
		{"POST /ok/ambiguous HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", "200"},
	}
	for _, c := range checks {
		if raw := s.raw("web", c.req, 5*time.Second); !strings.HasPrefix(raw, "HTTP/1.1 "+c.status+" ") {
			t.Errorf("%q: %q, want %s", c.req, raw, c.status)
		}
	}
	web += len(checks)
	for range 2 {
		expectStatus(client, "GET", s.url("down", "/ok"), "", 502)
		down++
	}
	for range 2 {
		expectStatus(client, "GET", s.url("empty", "/ok"), "", 503)
		empty++
	}
	wg.Wait()
	client.CloseIdleConnections()

	var entries []accesslog.Entry
	entries = append(entries, s.logEntries("web", web)...)
	entries = append(entries, s.logEntries("down", down)...)
	entries = append(entries, s.logEntries("empty", empty)...)
	want := fromLog(entries)
	got := s.scrape()

	for key, v := range want {
		g, ok := got[key]
		if !ok {
			t.Errorf("%s: missing from /metrics, the access log says %g", key, v)
			continue
		}
		if math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %g, the access log says %g", key, g, v)
		}
	}
	for key, g := range got {
		if isDerived(key) && g != 0 {
			if _, ok := want[key]; !ok {
				t.Errorf("%s = %g, the access log has no such request", key, g)
			}
		}
	}
	for _, class := range []string{"Acceptable", "Ambiguous"} {
		if got[seriesKey("albatross_desync_mitigation_mode_non_compliant_request_count_total", map[string]string{"load_balancer": entries[0].ELB, "classification": class})] == 0 {
			t.Errorf("no %s request counted; the script sends one", class)
		}
	}
	// Every ELB code of the script was counted, so the comparison above covered
	// them all.
	for _, code := range []string{"400", "405", "408", "418", "460", "463", "502", "503", "504"} {
		n := 0.0
		for key, v := range got {
			if strings.HasPrefix(key, "albatross_httpcode_elb_count_total{") && strings.Contains(key, `code="`+code+`"`) {
				n += v
			}
		}
		if n == 0 {
			t.Errorf("no ELB %s counted; the script provokes one", code)
		}
	}

	// The dashboard's latest errors are the log's 460 and ELB 5XX lines, with
	// their target and request.
	var st admin.State
	if err := json.Unmarshal([]byte(s.get("/dashboard/state")), &st); err != nil {
		t.Fatal(err)
	}
	type errLine struct{ code, target, request string }
	wantErrs := map[errLine]int{}
	for _, e := range entries {
		if e.TargetStatusCode == 0 && (e.ELBStatusCode == 460 || e.ELBStatusCode >= 500) {
			target := "-"
			if e.Target.IsValid() {
				target = e.Target.String()
			}
			wantErrs[errLine{strconv.Itoa(e.ELBStatusCode), target, string(e.Request)}]++
		}
	}
	gotErrs := map[errLine]int{}
	for _, e := range st.RecentErrors {
		gotErrs[errLine{strconv.Itoa(e.Code), e.TargetText, e.Request}]++
	}
	if fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
		t.Errorf("dashboard's latest errors:\n%v\nthe access log's 460 and ELB 5XX lines:\n%v", gotErrs, wantErrs)
	}

	// What the log line cannot tell: the two requests to the closed port are
	// connection errors; the target that closed without answering is not.
	snap := s.node.Snapshot()
	lbID := map[string]string{}
	for _, lb := range snap.LoadBalancers {
		lbID[lb.Name] = lb.ResourceID
	}
	var downGroup, downTarget string
	connErrs := 0.0
	for key, v := range got {
		if strings.HasPrefix(key, "albatross_target_connection_error_count_total{") {
			connErrs += v
			if strings.Contains(key, lbID["down"]) {
				downGroup, downTarget = key, fmt.Sprint(v)
			}
		}
	}
	if downTarget != "2" || connErrs != 2 {
		t.Errorf("target connection errors: %s = %s, %g in all; want 2, all on the closed port", downGroup, downTarget, connErrs)
	}
	// Connections: every client connection was counted when accepted and is
	// closed now (the clients closed theirs; the load balancer closes its side
	// as it notices).
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = s.scrape()
		active := got[seriesKey("albatross_active_connection_count", map[string]string{"load_balancer": lbID["web"]})]
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web still has %g active client connections 10 s after the clients closed them", active)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	// At least the raw exchanges, the 408, the 460 and the 504 had connections
	// of their own.
	if n := got[seriesKey("albatross_new_connection_count_total", map[string]string{"load_balancer": lbID["web"]})]; n < 6 {
		t.Errorf("web new connections %g, want at least 6", n)
	}
}

// TestActiveConnectionsIncludeParkedOnes: an idle keep-alive connection, parked
// without a goroutine, is still an active connection, and closing it ends it.
func TestActiveConnectionsIncludeParkedOnes(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	id := s.node.Snapshot().LoadBalancers[0].ResourceID
	active := func() float64 {
		return s.scrape()[seriesKey("albatross_active_connection_count", map[string]string{"load_balancer": id})]
	}
	c, err := net.Dial("tcp", s.lbAddr["web"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	if n := active(); n != 1 {
		t.Fatalf("%g active connections with one open, want 1", n)
	}
	// Not synchronisation: time for the idle connection to park (the proxy
	// parks after 200 ms idle), which must not change the count.
	time.Sleep(500 * time.Millisecond)
	if n := active(); n != 1 {
		t.Fatalf("%g active connections after the connection went idle, want 1", n)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for active() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted active after 10 s")
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// TestHealthyHostCounts: HealthyHostCount and UnHealthyHostCount follow the
// health checker, and the dashboard shows each target's state and reason.
func TestHealthyHostCounts(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.waitHealth(map[string][2]float64{"web/app": {2, 0}, "web/canary": {1, 0}, "down/gone": {0, 1}, "empty/none": {0, 0}})
	var st admin.State
	if err := json.Unmarshal([]byte(s.get("/dashboard/state")), &st); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, lb := range st.LoadBalancers {
		for _, g := range lb.TargetGroups {
			for _, tg := range g.Targets {
				states[lb.Name+"/"+g.Name+"/"+tg.Target] = tg.HealthState + " " + tg.HealthReason
			}
		}
	}
	for _, target := range s.targets {
		if got := states["web/app/"+target]; got != "healthy " {
			t.Errorf("web/app/%s: %q, want healthy without a reason", target, got)
		}
	}
	var gone string
	for k, v := range states {
		if strings.HasPrefix(k, "down/gone/") {
			gone = v
		}
	}
	if !strings.HasPrefix(gone, "unhealthy Target.") {
		t.Errorf("the closed-port target: %q, want unhealthy with a Target.* reason", gone)
	}
}
