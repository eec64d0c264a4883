package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleYAML is the example from the configuration format's description.
const exampleYAML = `region: us-east-1            # optional, default us-east-1
account_id: "000000000000"   # optional, 12 digits, default 000000000000
load_balancers:
  - name: web                         # 1-32 chars
    attributes:                       # AWS attribute keys, exactly as AWS spells them
      idle_timeout.timeout_seconds: 60
      client_keep_alive.seconds: 3600
    access_log:
      path: logs/access.log           # or directory: DIR (exactly one)
    listeners:
      - port: 8080
        address: 127.0.0.1            # optional, default 0.0.0.0; must be an IP literal
        protocol: HTTP
        default_actions:
          - type: forward
            target_group: app
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /health, interval_seconds: 5}
    attributes: {deregistration_delay.timeout_seconds: 30}
    targets:
      - {id: 127.0.0.1, port: 9001}
`

// minimalYAML has only what has no default.
const minimalYAML = `load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    port: 8080
    targets: [{id: 10.0.0.1}]
`

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse("albatross.yaml", []byte(y))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseExample(t *testing.T) {
	c := mustParse(t, exampleYAML)
	if c.Region != "us-east-1" || c.AccountID != "000000000000" {
		t.Errorf("region/account = %q/%q", c.Region, c.AccountID)
	}
	if len(c.LoadBalancers) != 1 || len(c.TargetGroups) != 1 {
		t.Fatalf("got %d load balancers, %d target groups", len(c.LoadBalancers), len(c.TargetGroups))
	}
	lb := c.LoadBalancers[0]
	if lb.Name != "web" || lb.AccessLog != (AccessLog{Path: "logs/access.log"}) {
		t.Errorf("load balancer = %q, access log %+v", lb.Name, lb.AccessLog)
	}
	if lb.Attrs.IdleTimeout != 60*time.Second || lb.Attrs.ClientKeepAlive != time.Hour {
		t.Errorf("typed attrs = %+v", lb.Attrs)
	}
	wantL := Listener{Port: 8080, Address: "127.0.0.1", Protocol: "HTTP", DefaultActions: []Action{{Type: "forward", TargetGroup: "app"}}}
	if len(lb.Listeners) != 1 || !equalListener(lb.Listeners[0], wantL) {
		t.Errorf("listeners = %+v", lb.Listeners)
	}
	tg := c.TargetGroups[0]
	if tg.Name != "app" || tg.Protocol != "HTTP" || tg.Port != 80 {
		t.Errorf("target group = %+v", tg)
	}
	if tg.Attributes["deregistration_delay.timeout_seconds"] != "30" || tg.Attrs.DeregistrationDelay != 30*time.Second {
		t.Errorf("deregistration delay = %q / %v", tg.Attributes["deregistration_delay.timeout_seconds"], tg.Attrs.DeregistrationDelay)
	}
	h := tg.HealthCheck
	if h.Path != "/health" || h.IntervalSeconds != 5 || h.TimeoutSeconds != 4 || h.Port != "traffic-port" || h.Matcher != "200" || !*h.Enabled {
		t.Errorf("health check = %+v (timeout must default below a 5 s interval)", h)
	}
	if len(tg.Targets) != 1 || tg.Targets[0] != (Target{ID: "127.0.0.1", Port: 9001}) {
		t.Errorf("targets = %+v", tg.Targets)
	}
}

func equalListener(a, b Listener) bool {
	if a.Port != b.Port || a.Address != b.Address || a.Protocol != b.Protocol || len(a.DefaultActions) != len(b.DefaultActions) {
		return false
	}
	for i := range a.DefaultActions {
		if a.DefaultActions[i] != b.DefaultActions[i] {
			return false
		}
	}
	return true
}

func TestParseDefaults(t *testing.T) {
	c := mustParse(t, minimalYAML)
	if c.Region != DefaultRegion || c.AccountID != DefaultAccountID {
		t.Errorf("region/account = %q/%q", c.Region, c.AccountID)
	}
	lb := c.LoadBalancers[0]
	if !maps.Equal(lb.Attributes, LoadBalancerAttributeDefaults()) {
		t.Errorf("load balancer attributes = %v\nwant the defaults %v", lb.Attributes, LoadBalancerAttributeDefaults())
	}
	wantLB := LoadBalancerAttributes{
		IdleTimeout: 60 * time.Second, ClientKeepAlive: 3600 * time.Second,
		DesyncMitigationMode: "defensive", XFFHeaderProcessingMode: "append", HTTP2Enabled: true,
	}
	if lb.Attrs != wantLB {
		t.Errorf("typed load balancer attributes = %+v\nwant %+v", lb.Attrs, wantLB)
	}
	if l := lb.Listeners[0]; l.Address != "0.0.0.0" || l.Protocol != "HTTP" {
		t.Errorf("listener address/protocol = %q/%q", l.Address, l.Protocol)
	}
	if lb.AccessLog != (AccessLog{}) {
		t.Errorf("access log = %+v, want none", lb.AccessLog)
	}
	tg := c.TargetGroups[0]
	if tg.Protocol != "HTTP" {
		t.Errorf("target group protocol = %q", tg.Protocol)
	}
	if !maps.Equal(tg.Attributes, TargetGroupAttributeDefaults()) {
		t.Errorf("target group attributes = %v", tg.Attributes)
	}
	wantTG := TargetGroupAttributes{
		DeregistrationDelay: 300 * time.Second, Algorithm: "round_robin", CrossZone: "use_load_balancer_configuration",
		Stickiness:                 Stickiness{Type: "lb_cookie", LBCookieDuration: 86400 * time.Second, AppCookieDuration: 86400 * time.Second},
		DNSFailoverMinHealthyCount: 1, UnhealthyStateRoutingMinHealthyCount: 1, RetryMode: "safe",
	}
	if tg.Attrs != wantTG {
		t.Errorf("typed target group attributes = %+v\nwant %+v", tg.Attrs, wantTG)
	}
	h, d := tg.HealthCheck, DefaultHealthCheck()
	if *h.Enabled != true || h.Protocol != "HTTP" || h.Port != "traffic-port" || h.Path != "/" || h.IntervalSeconds != 30 ||
		h.TimeoutSeconds != 5 || h.HealthyThresholdCount != 5 || h.UnhealthyThresholdCount != 2 || h.Matcher != "200" {
		t.Errorf("health check = %+v", h)
	}
	if d.Interval() != 30*time.Second || d.Timeout() != 5*time.Second {
		t.Errorf("DefaultHealthCheck interval/timeout = %v/%v", d.Interval(), d.Timeout())
	}
	if tg.Targets[0] != (Target{ID: "10.0.0.1", Port: 8080}) {
		t.Errorf("target = %+v, want the group's port", tg.Targets[0])
	}
	if err := CheckTimeouts(c); err != nil {
		t.Errorf("CheckTimeouts on a parsed config: %v", err)
	}
}

// TestAttributeValueForms: YAML booleans, integers and strings are stored as AWS's
// API returns them.
func TestAttributeValueForms(t *testing.T) {
	c := mustParse(t, `load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: 0x3C
      client_keep_alive.seconds: "7200"
      routing.http2.enabled: False
      routing.http.drop_invalid_header_fields.enabled: "TRUE"
      routing.http.preserve_host_header.enabled: true
      deletion_protection.enabled: "false"
      access_logs.s3.enabled: true
      access_logs.s3.bucket: my-logs.example
      access_logs.s3.prefix: albatross
target_groups:
  - name: app
    port: 80
    attributes:
      deregistration_delay.timeout_seconds: 1_0
      load_balancing.algorithm.type: weighted_random
      load_balancing.algorithm.anomaly_mitigation: on
      target_group_health.dns_failover.minimum_healthy_targets.count: off
      target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage: 50
      target_keep_alive.idle_timeout_seconds: 30
      target_keep_alive.retry_mode: compat
`)
	lb := c.LoadBalancers[0]
	for k, want := range map[string]string{
		"idle_timeout.timeout_seconds":                    "60",
		"client_keep_alive.seconds":                       "7200",
		"routing.http2.enabled":                           "false",
		"routing.http.drop_invalid_header_fields.enabled": "true",
		"routing.http.preserve_host_header.enabled":       "true",
		"deletion_protection.enabled":                     "false",
		"access_logs.s3.enabled":                          "true",
		"access_logs.s3.bucket":                           "my-logs.example",
		"waf.fail_open.enabled":                           "false",
	} {
		if got := lb.Attributes[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(lb.Attributes) != len(LoadBalancerAttributeKeys()) {
		t.Errorf("%d load balancer attributes, want every key (%d)", len(lb.Attributes), len(LoadBalancerAttributeKeys()))
	}
	a := lb.Attrs
	if a.IdleTimeout != time.Minute || a.ClientKeepAlive != 2*time.Hour || a.HTTP2Enabled || !a.DropInvalidHeaderFields ||
		!a.PreserveHostHeader || a.AccessLogsS3 != (S3LogAttributes{Enabled: true, Bucket: "my-logs.example", Prefix: "albatross"}) {
		t.Errorf("typed = %+v", a)
	}
	tg := c.TargetGroups[0]
	for k, want := range map[string]string{
		"deregistration_delay.timeout_seconds":                                           "10",
		"load_balancing.algorithm.anomaly_mitigation":                                    "on",
		"target_group_health.dns_failover.minimum_healthy_targets.count":                 "off",
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "50",
	} {
		if got := tg.Attributes[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	ta := tg.Attrs
	if ta.DeregistrationDelay != 10*time.Second || ta.Algorithm != AlgorithmWeightedRandom || !ta.AnomalyMitigation ||
		ta.DNSFailoverMinHealthyCount != 0 || ta.UnhealthyStateRoutingMinHealthyPercentage != 50 ||
		ta.TargetIdleTimeout != 30*time.Second || ta.RetryMode != RetryModeCompat {
		t.Errorf("typed = %+v", ta)
	}
}

func TestParseYAMLFeatures(t *testing.T) {
	// Anchors, aliases and merge keys work, and an unquoted account id keeps its
	// leading zeros.
	c := mustParse(t, `account_id: 000000000001
region: eu-west-1
target_groups:
  - name: app
    port: 80
    health_check: &hc {path: /ping, interval_seconds: 10}
  - name: app2
    port: 81
    health_check: *hc
load_balancers:
  - name: web
    listeners:
      - &l {port: 80, address: "::ffff:127.0.0.1", default_actions: [{type: forward, target_group: app}]}
      - <<: *l
        port: 81
`)
	if c.AccountID != "000000000001" || c.Region != "eu-west-1" {
		t.Errorf("account/region = %q/%q", c.AccountID, c.Region)
	}
	if h := c.TargetGroups[1].HealthCheck; h.Path != "/ping" || h.IntervalSeconds != 10 || h.TimeoutSeconds != 5 {
		t.Errorf("aliased health check = %+v", h)
	}
	ls := c.LoadBalancers[0].Listeners
	if len(ls) != 2 || ls[1].Port != 81 || ls[1].Address != "127.0.0.1" || ls[1].DefaultActions[0].TargetGroup != "app" {
		t.Errorf("merged listener = %+v", ls)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "albatross.yaml")
	if err := os.WriteFile(path, []byte(minimalYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("Load: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("load_balancers: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`:1: load_balancers: must be a list (lines beginning with "- "), got a mapping` {
		t.Errorf("Load(bad) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "read configuration: ") {
		t.Errorf("Load(missing) = %v", err)
	}
}

// TestProblemsAreReportedTogether checks that one Parse reports every problem, in
// line order, and that they can be taken apart with errors.As.
func TestProblemsAreReportedTogether(t *testing.T) {
	_, err := Parse("albatross.yaml", []byte(`target_groups:
  - name: app
    port: 0
load_balancers:
  - name: web
    attributes: {idle_timeout.timeout_seconds: 0}
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: ap}]
`))
	want := `albatross.yaml:3: target_groups[0].port: must be an integer from 1 to 65535, got "0"
albatross.yaml:6: load_balancers[0].attributes.idle_timeout.timeout_seconds: must be an integer from 1 to 4000, got "0"
albatross.yaml:9: load_balancers[0].listeners[0].default_actions[0].target_group: target group "ap" is not defined (did you mean "app"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Fatalf("not a *ValidationError with 3 problems: %#v", err)
	}
	if p := ve.Problems[1]; p.File != "albatross.yaml" || p.Line != 6 || p.Path != "load_balancers[0].attributes.idle_timeout.timeout_seconds" {
		t.Errorf("problem = %+v", p)
	}
	var p Problem
	if !errors.As(err, &p) || p.Line != 3 {
		t.Errorf("errors.As(Problem) = %+v", p)
	}
}

// TestEmptyConfiguration: a file with no load balancers, as a node whose
// resources come from the API starts from, is a valid configuration with its
// defaults filled in, however the emptiness is written.
func TestEmptyConfiguration(t *testing.T) {
	for _, data := range []string{"", "\n", "# nothing yet\n\n", "---\n", "null\n", "~\n", "{}\n",
		"load_balancers: []\n", "load_balancers:\n", "target_groups: []\n", "load_balancers: []\ntarget_groups: []\n",
		"region: eu-west-1\nload_balancers: []\n"} {
		cfg, err := Parse("albatross.yaml", []byte(data))
		if err != nil {
			t.Errorf("%q: %v", data, err)
			continue
		}
		if len(cfg.LoadBalancers) != 0 || len(cfg.TargetGroups) != 0 {
			t.Errorf("%q: %d load balancers, %d target groups, want none", data, len(cfg.LoadBalancers), len(cfg.TargetGroups))
		}
		wantRegion := "us-east-1"
		if strings.HasPrefix(data, "region:") {
			wantRegion = "eu-west-1"
		}
		if cfg.Region != wantRegion {
			t.Errorf("%q: region %q, want %q (defaults are filled in)", data, cfg.Region, wantRegion)
		}
	}
	// Emptiness does not excuse a wrong shape.
	for data, want := range map[string]string{
		"load_balancers: {}\n": `albatross.yaml:1: load_balancers: must be a list (lines beginning with "- "), got a mapping`,
		"- web\n":              `albatross.yaml:1: must be a mapping (key: value lines), got a list`,
		"loadbalancers: []\n":  `albatross.yaml:1: loadbalancers: unknown key (did you mean "load_balancers"?)`,
	} {
		if _, err := Parse("albatross.yaml", []byte(data)); err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %s", data, err, want)
		}
	}
}

// TestListenerAttributes: listener attributes in the file are checked like
// the API's and typed for the data plane.
func TestListenerAttributes(t *testing.T) {
	file := func(attrs string) string {
		return "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        attributes: " + attrs +
			"\n        default_actions: [{type: fixed-response, fixed_response: {status_code: \"200\"}}]\n"
	}
	cfg, err := Parse("albatross.yaml", []byte(file(`{routing.http.response.server.enabled: false, routing.http.response.x_frame_options.header_value: SAMEORIGIN, routing.http.request.x_amzn_tls_version.header_name: X-TLS}`)))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.LoadBalancers[0].Listeners[0].Attrs
	if a.ServerHeader || len(a.ResponseHeaders) != 1 || a.ResponseHeaders[0] != (HeaderField{"X-Frame-Options", "SAMEORIGIN"}) || a.RequestHeaderName("X-Amzn-Tls-Version") != "X-TLS" {
		t.Errorf("typed attributes %+v", a)
	}
	if got := cfg.LoadBalancers[0].Listeners[0].Attributes["routing.http.response.content_security_policy.header_value"]; got != "" {
		t.Errorf("default of an unset header value: %q", got)
	}
	for attrs, want := range map[string]string{
		`{routing.http.response.x_content_type_options.header_value: sniff}`:                                                        `albatross.yaml:5: load_balancers[0].listeners[0].attributes.routing.http.response.x_content_type_options.header_value: must be nosniff, got "sniff"`,
		`{routing.http.response.content_security_policy.header_value: "a\tb"}`:                                                      `albatross.yaml:5: load_balancers[0].listeners[0].attributes.routing.http.response.content_security_policy.header_value: may contain only printable ASCII characters (no control characters or line breaks), got "a\tb"`,
		`{tcp.idle_timeout.seconds: "350"}`:                                                                                         `albatross.yaml:5: load_balancers[0].listeners[0].attributes.tcp.idle_timeout.seconds: is a Network Load Balancer listener attribute; it does not apply to an Application Load Balancer`,
		`{routing.http.request.x_amzn_tls_version.header_name: X-A, routing.http.request.x_amzn_tls_cipher_suite.header_name: x-a}`: `albatross.yaml:5: load_balancers[0].listeners[0].attributes.routing.http.request.x_amzn_tls_cipher_suite.header_name: names the same header "x-a" as routing.http.request.x_amzn_tls_version.header_name; each header needs its own name`,
	} {
		if _, err := Parse("albatross.yaml", []byte(file(attrs))); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", attrs, err, want)
		}
	}
}
