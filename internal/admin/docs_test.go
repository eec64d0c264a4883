package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/albatross-lb/albatross/internal/metrics"
)

// docsDir is the repository's docs/ directory.
const docsDir = "../../docs"

type openPool int64

func (p openPool) Open() int64 { return int64(p) }

// servedFamilies returns the names of the metric families /metrics serves for
// a load balancer with one target group and target.
func servedFamilies(t *testing.T) map[string]bool {
	t.Helper()
	reg := metrics.NewRegistry()
	lb := reg.Bind("app/web/1", []metrics.GroupSpec{{ID: "targetgroup/app/2", ARN: "arn:x:targetgroup/app/2",
		HealthChecked: true,
		Targets: []metrics.TargetSpec{{Addr: netip.MustParseAddrPort("127.0.0.1:80"), Pool: openPool(1), Health: func() string { return "healthy" },
			Anomaly: func() (bool, bool) { return false, false }}}}})
	lb.TLSErrors = new(atomic.Uint64) // as the snapshot compiler binds it
	reg.Publish([]*metrics.LoadBalancer{lb})
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for name := range fams {
		if strings.HasPrefix(name, metrics.Namespace+"_") {
			out[name] = true
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\balbatross_[a-z0-9_]+`)

// usedFamilies returns the metric families text refers to (a histogram's
// _bucket, _sum and _count series name their family).
func usedFamilies(text string, served map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, n := range metricName.FindAllString(text, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suffix); ok && served[base] {
				n = base
			}
		}
		out[n] = true
	}
	return out
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(docsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDocsNameServedMetrics checks that docs/metrics.md lists every metric
// /metrics serves, and that it, the Grafana dashboard and the alert rules use no
// name that is not served.
func TestDocsNameServedMetrics(t *testing.T) {
	served := servedFamilies(t)
	if len(served) < 15 {
		t.Fatalf("only %d families served: %v", len(served), served)
	}
	ref := usedFamilies(readDoc(t, "metrics.md"), served)
	for name := range served {
		if !ref[name] {
			t.Errorf("docs/metrics.md does not describe %s", name)
		}
	}
	for _, doc := range []string{"metrics.md", "grafana-dashboard.json", "prometheus-alerts.yml", "prometheus-alerts.test.yml"} {
		for name := range usedFamilies(readDoc(t, doc), served) {
			if !served[name] {
				t.Errorf("docs/%s uses %s, which /metrics does not serve", doc, name)
			}
		}
	}
}

// grafanaExprs returns every query of the Grafana dashboard.
func grafanaExprs(t *testing.T) []string {
	t.Helper()
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(readDoc(t, "grafana-dashboard.json")), &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	var out []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	if len(out) < 10 {
		t.Fatalf("the dashboard has %d queries", len(out))
	}
	return out
}

// TestAlertRulesAndDashboardQueries runs Prometheus's promtool on the alert rules
// (syntax and their unit tests) and on every query of the Grafana dashboard.
func TestAlertRulesAndDashboardQueries(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed, so the alert rules and dashboard queries are not checked: `apt-get install prometheus` (CI's .ci/run installs it)")
	}
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(docsDir, "check", "rules", "prometheus-alerts.yml")
	run(docsDir, "test", "rules", "prometheus-alerts.test.yml")

	// The dashboard's queries, with Grafana's variables filled in, as recording
	// rules: promtool parses each one.
	exprs := grafanaExprs(t)
	r := strings.NewReplacer("$__rate_interval", "5m", "$load_balancer", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: grafana\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(r.Replace(e))
		fmt.Fprintf(&b, "      - record: grafana:query_%d\n        expr: %s\n", i, q)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grafana.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(dir, "check", "rules", "grafana.yml")
}
