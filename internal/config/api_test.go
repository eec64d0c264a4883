package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The functions the ELBv2 API calls work on plain string maps, without files.

func TestValidateLoadBalancerAttributes(t *testing.T) {
	a, err := ValidateLoadBalancerAttributes(map[string]string{"idle_timeout.timeout_seconds": "120"})
	if err != nil {
		t.Fatal(err)
	}
	if a.IdleTimeout != 120*time.Second || a.ClientKeepAlive != time.Hour || !a.HTTP2Enabled {
		t.Errorf("typed = %+v", a)
	}

	full, _, err := NormalizeLoadBalancerAttributes(map[string]string{"routing.http2.enabled": "False", "client_keep_alive.seconds": "0600"})
	if err != nil {
		t.Fatal(err)
	}
	if full["routing.http2.enabled"] != "false" || full["client_keep_alive.seconds"] != "600" || full["idle_timeout.timeout_seconds"] != "60" {
		t.Errorf("normalized = %v", full)
	}
	if len(full) != len(LoadBalancerAttributeDefaults()) {
		t.Errorf("normalized map has %d keys, want all %d", len(full), len(LoadBalancerAttributeDefaults()))
	}

	_, err = ValidateLoadBalancerAttributes(map[string]string{
		"idle_timeout.timeout_seconds": "99999",
		"foo.bar":                      "1",
		"access_logs.s3.enabled":       "true",
	})
	want := `foo.bar: unknown load balancer attribute
idle_timeout.timeout_seconds: must be an integer from 1 to 4000, got "99999"
access_logs.s3.bucket: is required when access_logs.s3.enabled is true`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Problems[1].Path != "idle_timeout.timeout_seconds" || ve.Problems[1].Line != 0 {
		t.Errorf("problems = %+v", ve)
	}
}

func TestValidateTargetGroupAttributes(t *testing.T) {
	a, err := ValidateTargetGroupAttributes(map[string]string{"stickiness.enabled": "true", "stickiness.type": "app_cookie", "stickiness.app_cookie.cookie_name": "SESSION"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Stickiness.Enabled || a.Stickiness.Type != StickinessAppCookie || a.Stickiness.AppCookieName != "SESSION" || a.DeregistrationDelay != 300*time.Second {
		t.Errorf("typed = %+v", a)
	}
	_, err = ValidateTargetGroupAttributes(map[string]string{"load_balancing.algorithm.type": "weighted_random", "slow_start.duration_seconds": "60", "waf.fail_open.enabled": "true"})
	want := `waf.fail_open.enabled: is a load balancer attribute, not a target group attribute
slow_start.duration_seconds: slow start works only with load_balancing.algorithm.type round_robin, got load_balancing.algorithm.type "weighted_random"`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestAttributeDefaultsAreValidAndCopied(t *testing.T) {
	lb := LoadBalancerAttributeDefaults()
	if _, err := ValidateLoadBalancerAttributes(lb); err != nil {
		t.Errorf("load balancer defaults do not validate: %v", err)
	}
	tg := TargetGroupAttributeDefaults()
	if _, err := ValidateTargetGroupAttributes(tg); err != nil {
		t.Errorf("target group defaults do not validate: %v", err)
	}
	lb["idle_timeout.timeout_seconds"] = "1"
	if LoadBalancerAttributeDefaults()["idle_timeout.timeout_seconds"] != "60" {
		t.Error("LoadBalancerAttributeDefaults returned shared state")
	}
	// Every key of AWS's tables (elbv2-api.md §3.2 and §3.3) is known.
	for _, k := range []string{
		"idle_timeout.timeout_seconds", "client_keep_alive.seconds", "deletion_protection.enabled",
		"routing.http.desync_mitigation_mode", "routing.http.drop_invalid_header_fields.enabled",
		"routing.http.preserve_host_header.enabled", "routing.http.x_amzn_tls_version_and_cipher_suite.enabled",
		"routing.http.xff_client_port.enabled", "routing.http.xff_header_processing.mode", "routing.http2.enabled",
		"waf.fail_open.enabled", "load_balancing.cross_zone.enabled", "access_logs.s3.enabled", "access_logs.s3.bucket",
		"access_logs.s3.prefix", "connection_logs.s3.enabled", "connection_logs.s3.bucket", "connection_logs.s3.prefix",
		"health_check_logs.s3.enabled", "health_check_logs.s3.bucket", "health_check_logs.s3.prefix",
		"zonal_shift.config.enabled", "ipv6.deny_all_igw_traffic",
	} {
		if _, ok := LoadBalancerAttributeDefaults()[k]; !ok {
			t.Errorf("load balancer attribute %s missing", k)
		}
	}
	if n := len(LoadBalancerAttributeKeys()); n != 23 {
		t.Errorf("%d load balancer attribute keys, want 23", n)
	}
	for _, k := range []string{
		"deregistration_delay.timeout_seconds", "stickiness.enabled", "stickiness.type",
		"stickiness.lb_cookie.duration_seconds", "stickiness.app_cookie.cookie_name", "stickiness.app_cookie.duration_seconds",
		"slow_start.duration_seconds", "load_balancing.algorithm.type", "load_balancing.algorithm.anomaly_mitigation",
		"load_balancing.cross_zone.enabled", "target_group_health.dns_failover.minimum_healthy_targets.count",
		"target_group_health.dns_failover.minimum_healthy_targets.percentage",
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
		"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
		"target_keep_alive.idle_timeout_seconds", "target_keep_alive.retry_mode",
	} {
		if _, ok := TargetGroupAttributeDefaults()[k]; !ok {
			t.Errorf("target group attribute %s missing", k)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, c := range []struct {
		name     string
		ok, lbOK bool
	}{
		{"web", true, true},
		{"my-load-balancer-1", true, true},
		{strings.Repeat("a", 32), true, true},
		{"internal-api", true, false},
		{"Internal-api", true, false},
		{"internal", true, true},
		{"", false, false},
		{strings.Repeat("a", 33), false, false},
		{"-web", false, false},
		{"web-", false, false},
		{"web_1", false, false},
		{"wéb", false, false},
		{"a.b", false, false},
	} {
		if err := ValidName(c.name); (err == nil) != c.ok {
			t.Errorf("ValidName(%q) = %v", c.name, err)
		}
		if err := ValidLoadBalancerName(c.name); (err == nil) != c.lbOK {
			t.Errorf("ValidLoadBalancerName(%q) = %v", c.name, err)
		}
	}
}

func TestParseHTTPCodes(t *testing.T) {
	for _, c := range []struct {
		s       string
		ok      bool
		match   []int
		noMatch []int
	}{
		{"200", true, []int{200}, []int{201, 199}},
		{"200,202,204", true, []int{200, 202, 204}, []int{201, 203}},
		{"200-299", true, []int{200, 250, 299}, []int{300, 199}},
		{"499", true, []int{499}, nil},
		{"404-404", true, []int{404}, []int{405}},
		{"199", false, nil, nil},
		{"500", false, nil, nil},
		{"200-500", false, nil, nil},
		{"300-200", false, nil, nil},
		{"200,", false, nil, nil},
		{"200, 202", false, nil, nil},
		{"2xx", false, nil, nil},
		{"0200", false, nil, nil},
		{"", false, nil, nil},
		{"200-299,302", false, nil, nil},
	} {
		m, err := ParseHTTPCodes(c.s)
		if (err == nil) != c.ok {
			t.Errorf("ParseHTTPCodes(%q) error = %v", c.s, err)
			continue
		}
		for _, code := range c.match {
			if !m.Match(code) {
				t.Errorf("%q does not match %d", c.s, code)
			}
		}
		for _, code := range c.noMatch {
			if m.Match(code) {
				t.Errorf("%q matches %d", c.s, code)
			}
		}
	}
}

func TestValidateHealthCheck(t *testing.T) {
	h, err := ValidateHealthCheck(HealthCheck{Path: "/ping", IntervalSeconds: 5})
	if err != nil {
		t.Fatal(err)
	}
	if h.TimeoutSeconds != 4 || h.Port != "traffic-port" || h.Matcher != "200" || !*h.Enabled || h.HealthyThresholdCount != 5 {
		t.Errorf("filled = %+v", h)
	}
	_, err = ValidateHealthCheck(HealthCheck{IntervalSeconds: 10, TimeoutSeconds: 12, Port: "80a"})
	want := `port: must be traffic-port or a port from 1 to 65535, got "80a"
timeout_seconds: must be smaller than interval_seconds (10), got "12": a probe must finish before the next one starts`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestOrderingChecks(t *testing.T) {
	lb := LoadBalancerAttributes{IdleTimeout: 60 * time.Second}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"health check ok", CheckHealthCheckTimeout(HealthCheck{IntervalSeconds: 30, TimeoutSeconds: 5}), ""},
		{"health check", CheckHealthCheckTimeout(HealthCheck{IntervalSeconds: 5, TimeoutSeconds: 5}),
			"health_check.timeout_seconds (5s) must be smaller than health_check.interval_seconds (5s): a probe must finish before the next one starts"},
		{"target idle unset", CheckTargetIdleTimeout(TargetGroupAttributes{}, lb), ""},
		{"target idle equal", CheckTargetIdleTimeout(TargetGroupAttributes{TargetIdleTimeout: 60 * time.Second}, lb), ""},
		{"target idle", CheckTargetIdleTimeout(TargetGroupAttributes{TargetIdleTimeout: 61 * time.Second}, lb),
			"target_keep_alive.idle_timeout_seconds (61s) must be at most idle_timeout.timeout_seconds (60s): the load balancer already closes target connections idle that long, so a larger value never takes effect"},
		{"target keep-alive ok", CheckTargetKeepAlive(4*time.Second, 5*time.Second), ""},
		{"target keep-alive", CheckTargetKeepAlive(60*time.Second, 5*time.Second),
			"target idle limit (60s) must be smaller than the target's keep-alive timeout (5s): the target closes idle connections first, and a request racing that close gets a 502; set target_keep_alive.idle_timeout_seconds below the target's timeout or raise the target's keep-alive timeout"},
		{"headers timeout", CheckTargetHeadersTimeout(65*time.Second, 60*time.Second),
			"the target's keep-alive timeout (65s) must be smaller than the target's request headers timeout (60s): the target may close kept-alive connections on the headers timeout while the load balancer still reuses them"},
		{"client timeout ok", CheckClientTimeout(61*time.Second, lb), ""},
		{"client timeout", CheckClientTimeout(1500*time.Millisecond, lb),
			"client request timeout (1.5s) must be larger than idle_timeout.timeout_seconds (60s): the client gives up before the load balancer answers a slow target with 504, and the request is logged as 460"},
	} {
		got := ""
		if c.err != nil {
			got = c.err.Error()
			var oe *OrderingError
			if !errors.As(c.err, &oe) {
				t.Errorf("%s: not an *OrderingError", c.name)
			}
		}
		if got != c.want {
			t.Errorf("%s:\ngot  %s\nwant %s", c.name, got, c.want)
		}
	}
	if d := TargetIdleLimit(TargetGroupAttributes{TargetIdleTimeout: 10 * time.Second}, lb); d != 10*time.Second {
		t.Errorf("TargetIdleLimit = %v", d)
	}
	if d := TargetIdleLimit(TargetGroupAttributes{}, lb); d != 60*time.Second {
		t.Errorf("TargetIdleLimit unset = %v", d)
	}
}

// TestCheckTimeouts runs the configuration-wide ordering rules on a Config that
// did not come from Parse (as doctor may).
func TestCheckTimeouts(t *testing.T) {
	c := &Config{
		LoadBalancers: []LoadBalancer{{
			Name:      "web",
			Attrs:     LoadBalancerAttributes{IdleTimeout: 30 * time.Second},
			Listeners: []Listener{{Port: 80, DefaultActions: []Action{{Type: "forward", TargetGroup: "app"}}}},
		}},
		TargetGroups: []TargetGroup{{
			Name:        "app",
			HealthCheck: HealthCheck{IntervalSeconds: 10, TimeoutSeconds: 10},
			Attrs:       TargetGroupAttributes{TargetIdleTimeout: 40 * time.Second},
		}},
	}
	var got []string
	for _, p := range CheckTimeouts(c) {
		got = append(got, p.Error())
	}
	want := []string{
		"target_groups[0].health_check.timeout_seconds: health_check.timeout_seconds (10s) must be smaller than health_check.interval_seconds (10s): a probe must finish before the next one starts",
		`target_groups[0].attributes.target_keep_alive.idle_timeout_seconds: load balancer "web" (load_balancers[0]): target_keep_alive.idle_timeout_seconds (40s) must be at most idle_timeout.timeout_seconds (30s): the load balancer already closes target connections idle that long, so a larger value never takes effect`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSuggest(t *testing.T) {
	keys := LoadBalancerAttributeKeys()
	for s, want := range map[string]string{
		"idle_timeout":                    "idle_timeout.timeout_seconds",
		"timeout_seconds":                 "idle_timeout.timeout_seconds",
		"idle_timeout.timeout_second":     "idle_timeout.timeout_seconds",
		"routing.http2.enable":            "routing.http2.enabled",
		"ROUTING.HTTP2.ENABLED":           "routing.http2.enabled",
		"routing.http.desync_mitigation":  "routing.http.desync_mitigation_mode",
		"access_logs":                     "",
		"completely.different.key.here.x": "",
	} {
		if got := suggest(s, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestProblemFormat(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Path: "x.y", Message: "bad"}, "a.yaml:3: x.y: bad"},
		{Problem{File: "a.yaml", Message: "empty"}, "a.yaml: empty"},
		{Problem{Path: "k", Message: "bad"}, "k: bad"},
		{Problem{Line: 2, Message: "bad"}, "line 2: bad"},
	} {
		if got := c.p.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
