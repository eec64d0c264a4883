package config

import (
	"strings"
	"testing"
)

// skeleton is a valid configuration; the helpers below put the lines under test
// at a known line number.
const skeleton = `load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    port: 80
`

// withLBAttrs puts attribute lines at line 4 onwards.
func withLBAttrs(lines ...string) string {
	return "load_balancers:\n  - name: web\n    attributes:\n" + indent(6, lines) + strings.TrimPrefix(skeleton, "load_balancers:\n  - name: web\n")
}

// withTGAttrs puts target group attribute lines at line 10 onwards.
func withTGAttrs(lines ...string) string {
	return skeleton + "    attributes:\n" + indent(6, lines)
}

// withHealthCheck puts health check lines at line 10 onwards.
func withHealthCheck(lines ...string) string {
	return skeleton + "    health_check:\n" + indent(6, lines)
}

func indent(n int, lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.Repeat(" ", n) + l + "\n")
	}
	return b.String()
}

func TestSkeletonIsValid(t *testing.T) {
	for _, y := range []string{skeleton, withLBAttrs("routing.http2.enabled: false"), withTGAttrs("stickiness.enabled: true"), withHealthCheck("path: /ok"), withHealthCheck("protocol: HTTPS")} {
		if _, err := Parse("albatross.yaml", []byte(y)); err != nil {
			t.Errorf("Parse(%s): %v", y, err)
		}
	}
}

// TestValidationErrors checks the exact text of each rule's error.
func TestValidationErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // without the "albatross.yaml:" prefix
	}{
		// The file as a whole.
		{"YAML syntax", "load_balancers:\n  - name: web\n   port: 80\n", []string{"3: invalid YAML: did not find expected '-' indicator"}},
		{"YAML syntax deep", skeleton + "    targets:\n      - {id: 10.0.0.1\n", []string{"10: invalid YAML: did not find expected ',' or '}'"}},
		{"YAML unclosed quote", skeleton + "    protocol: \"HTTP\n", []string{"9: invalid YAML: found unexpected end of stream"}},
		{"YAML tab", "load_balancers:\n\t- name: web\n", []string{"2: invalid YAML: found character that cannot start any token"}},
		{"two documents", skeleton + "---\nregion: us-east-1\n", []string{"9: only one YAML document is allowed in a configuration file"}},
		{"not a mapping", "- web\n", []string{`1: must be a mapping (key: value lines), got a list`}},
		{"load balancers not a list", "load_balancers: {name: web}\n", []string{`1: load_balancers: must be a list (lines beginning with "- "), got a mapping`}},
		{"unknown top-level key", "loadbalancers: []\n" + skeleton, []string{`1: loadbalancers: unknown key (did you mean "load_balancers"?)`}},
		{"duplicate key", "region: us-east-1\nregion: us-west-2\n" + skeleton, []string{"2: region: duplicate key (first set on line 1)"}},
		{"region", "region: US-East-1\n" + skeleton, []string{`1: region: must be an AWS region name such as us-east-1, got "US-East-1"`}},
		{"account id", "account_id: 1234\n" + skeleton, []string{`1: account_id: must be 12 digits, got "1234"`}},

		// Names.
		{"load balancer name missing", "load_balancers:\n  - listeners: []\n", []string{"2: load_balancers[0].name: is required"}},
		{"load balancer name chars", "load_balancers:\n  - name: web_1\n", []string{`2: load_balancers[0].name: may contain only letters, digits and hyphens, got "web_1"`}},
		{"load balancer name hyphen", "load_balancers:\n  - name: web-\n", []string{`2: load_balancers[0].name: must not begin or end with a hyphen, got "web-"`}},
		{"load balancer name internal-", "load_balancers:\n  - name: internal-web\n", []string{`2: load_balancers[0].name: must not begin with "internal-", got "internal-web"`}},
		{"load balancer name long", "load_balancers:\n  - name: " + strings.Repeat("a", 33) + "\n", []string{`2: load_balancers[0].name: must be at most 32 characters, got 33 ("` + strings.Repeat("a", 33) + `")`}},
		{"load balancer name duplicate", "load_balancers:\n  - name: web\n  - name: web\n", []string{`3: load_balancers[1].name: load balancer name "web" is already used by load_balancers[0]`}},
		{"target group name duplicate", skeleton + "  - name: app\n    port: 81\n", []string{`9: target_groups[1].name: target group name "app" is already used by target_groups[0]`}},
		{"target group name rules", "target_groups:\n  - {name: '-x', port: 80}\n" + skeleton[:len("load_balancers:\n  - name: web\n")], []string{`2: target_groups[0].name: must not begin or end with a hyphen, got "-x"`}},

		// Listeners.
		{"listener port range", "load_balancers:\n  - name: web\n    listeners:\n      - port: 65536\n        default_actions: [{type: forward, target_group: app}]\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].port: must be an integer from 1 to 65535, got "65536"`}},
		{"listener port type", "load_balancers:\n  - name: web\n    listeners:\n      - port: http\n        default_actions: [{type: forward, target_group: app}]\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].port: must be an integer from 1 to 65535, got "http"`}},
		{"listener port missing", "load_balancers:\n  - name: web\n    listeners:\n      - default_actions: [{type: forward, target_group: app}]\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].port: is required`}},
		{"listener address", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, address: localhost, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].address: must be an IP address such as 0.0.0.0, 127.0.0.1 or ::, got "localhost"`}},
		{"HTTPS listener without certificates", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 443, protocol: HTTPS, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].certificates: an HTTPS listener needs at least one certificate ({cert: FILE, key: FILE}); the first is the default`}},
		{"HTTP listener with TLS settings", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, certificates: [{cert: a.pem, key: a.key}], ssl_policy: ELBSecurityPolicy-2016-08, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].certificates: only HTTPS listeners take certificates (protocol is HTTP)`,
				`4: load_balancers[0].listeners[0].ssl_policy: only HTTPS listeners take an ssl_policy (protocol is HTTP)`}},
		{"HTTPS certificate without key", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 443, protocol: HTTPS, certificates: [{cert: a.pem}], default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].certificates[0].key: is required (a PEM file)`}},
		{"unknown ssl policy", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 443, protocol: HTTPS, ssl_policy: ELBSecurityPolicy-2016-09, certificates: [{cert: a.pem, key: a.key}], default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].ssl_policy: ssl policy "ELBSecurityPolicy-2016-09" is not an Application Load Balancer security policy (did you mean "ELBSecurityPolicy-2016-08"?)`}},
		{"FIPS ssl policy", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 443, protocol: HTTPS, ssl_policy: ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04, certificates: [{cert: a.pem, key: a.key}], default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].ssl_policy: ssl policy "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04" cannot be served: FIPS policies require a FIPS 140-3 validated TLS module for every connection, and Albatross does not run Go's FIPS 140-3 mode per listener; use the same policy name without FIPS`}},
		{"listener protocol", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, protocol: TCP, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`4: load_balancers[0].listeners[0].protocol: must be HTTP or HTTPS, got "TCP"`}},
		{"listener port twice in one load balancer", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, address: 127.0.0.1, default_actions: [{type: forward, target_group: app}]}\n      - {port: 80, address: 127.0.0.2, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`5: load_balancers[0].listeners[1].port: port 80 is already used by listeners[0] of this load balancer`}},
		{"same socket in two load balancers", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, address: 127.0.0.1, default_actions: [{type: forward, target_group: app}]}\n  - name: web2\n    listeners:\n      - {port: 80, address: 127.0.0.1, default_actions: [{type: forward, target_group: app2}]}\ntarget_groups: [{name: app, port: 80}, {name: app2, port: 80}]\n",
			[]string{`7: load_balancers[1].listeners[0].port: 127.0.0.1:80 overlaps load_balancers[0].listeners[0] (127.0.0.1:80, line 4): two listeners cannot bind the same socket`}},
		{"wildcard overlaps", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, address: 127.0.0.1, default_actions: [{type: forward, target_group: app}]}\n  - name: web2\n    listeners:\n      - {port: 80, default_actions: [{type: forward, target_group: app2}]}\ntarget_groups: [{name: app, port: 80}, {name: app2, port: 80}]\n",
			[]string{`7: load_balancers[1].listeners[0].port: 0.0.0.0:80 overlaps load_balancers[0].listeners[0] (127.0.0.1:80, line 4): two listeners cannot bind the same socket`}},
		{"IPv6 wildcard overlaps IPv4", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, address: '::', default_actions: [{type: forward, target_group: app}]}\n  - name: web2\n    listeners:\n      - {port: 80, address: 10.1.2.3, default_actions: [{type: forward, target_group: app2}]}\ntarget_groups: [{name: app, port: 80}, {name: app2, port: 80}]\n",
			[]string{`7: load_balancers[1].listeners[0].port: 10.1.2.3:80 overlaps load_balancers[0].listeners[0] ([::]:80, line 4): two listeners cannot bind the same socket`}},
		{"no default action", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80}\n",
			[]string{`4: load_balancers[0].listeners[0].default_actions: exactly one default action is required, got none`}},
		{"two default actions", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - {type: forward, target_group: app}\n          - {type: forward, target_group: app}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`7: load_balancers[0].listeners[0].default_actions[1]: only one forward, redirect or fixed-response action is allowed, got forward and forward`}},
		{"authenticate action alone on HTTP", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - type: authenticate-oidc\n",
			[]string{
				`4: load_balancers[0].listeners[0].default_actions[0]: an authentication action (authenticate-oidc) needs an HTTPS listener (this one is HTTP)`,
				`6: load_balancers[0].listeners[0].default_actions[0].authenticate_oidc: is required for an authenticate-oidc action`,
				`6: load_balancers[0].listeners[0].default_actions[0]: an authentication action (authenticate-oidc) must be followed by a forward, redirect or fixed-response action (the last one by order)`,
			}},
		{"action unknown", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - type: proxy\n",
			[]string{`6: load_balancers[0].listeners[0].default_actions[0].type: must be one of forward, redirect, fixed-response, authenticate-oidc, authenticate-cognito or jwt-validation, got "proxy"`}},
		{"forward without target group", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - type: forward\n",
			[]string{`6: load_balancers[0].listeners[0].default_actions[0].target_group: is required for a forward action (or forward.target_groups for weighted target groups)`}},
		{"dangling target group", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - type: forward\n            target_group: ap\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`7: load_balancers[0].listeners[0].default_actions[0].target_group: target group "ap" is not defined (did you mean "app"?)`}},
		{"dangling target group without suggestion", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        default_actions:\n          - type: forward\n            target_group: backend\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`7: load_balancers[0].listeners[0].default_actions[0].target_group: target group "backend" is not defined`}},
		{"target group behind two load balancers", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, default_actions: [{type: forward, target_group: app}]}\n  - name: web2\n    listeners:\n      - {port: 81, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`7: load_balancers[1].listeners[0].default_actions[0].target_group: target group "app" is already used by load_balancers[0]; AWS allows one load balancer per target group`}},
		{"dangling target group through a merge key", "load_balancers:\n  - name: web\n    listeners:\n      - &l {port: 80, default_actions: [{type: forward, target_group: nope}]}\n      - <<: *l\n        port: 81\n      - <<: *l\n", []string{
			`4: load_balancers[0].listeners[2].port: port 80 is already used by listeners[0] of this load balancer`,
			`4: load_balancers[0].listeners[0].default_actions[0].target_group: target group "nope" is not defined`,
			`4: load_balancers[0].listeners[1].default_actions[0].target_group: target group "nope" is not defined`,
			`4: load_balancers[0].listeners[2].default_actions[0].target_group: target group "nope" is not defined`}},
		{"unknown listener key", "load_balancers:\n  - name: web\n    listeners:\n      - port: 80\n        protocl: HTTP\n        default_actions: [{type: forward, target_group: app}]\ntarget_groups: [{name: app, port: 80}]\n",
			[]string{`5: load_balancers[0].listeners[0].protocl: unknown key (did you mean "protocol"?)`}},

		// Access logs.
		{"access log both", "load_balancers:\n  - name: web\n    access_log:\n      path: a.log\n      directory: logs\n",
			[]string{`4: load_balancers[0].access_log: set exactly one of path (one file) or directory (ALB-style gzip files), not both`}},
		{"access log empty", "load_balancers:\n  - name: web\n    access_log:\n      path: ''\n",
			[]string{`4: load_balancers[0].access_log.path: must not be empty (leave the key out instead)`}},
		{"access log shared", "load_balancers:\n  - name: web\n    access_log: {path: logs/a.log}\n  - name: web2\n    access_log: {path: ./logs/a.log}\n",
			[]string{`4: load_balancers[1].access_log.path: "./logs/a.log" is already the access log of load_balancers[0]; give each log its own file`}},
		{"health-check log on the connection log", "load_balancers:\n  - name: web\n    connection_log: {path: logs/c.log}\n    health_check_log: {path: logs/c.log}\n",
			[]string{`2: load_balancers[0].health_check_log.path: "logs/c.log" is already the connection log of load_balancers[0]; give each log its own file`}},
		{"health-check log keys", "load_balancers:\n  - name: web\n    health_check_log: {file: x}\n",
			[]string{`3: load_balancers[0].health_check_log.file: unknown key`}},

		// Target groups and targets.
		{"target group port missing", "target_groups:\n  - name: app\nload_balancers: [{name: web}]\n",
			[]string{`2: target_groups[0].port: is required (it is the port of targets listed without one)`}},
		{"target id", skeleton + "    targets:\n      - id: i-0123456789abcdef0\n",
			[]string{`10: target_groups[0].targets[0].id: must be an IP address (target groups are of type ip), got "i-0123456789abcdef0"`}},
		{"target group protocol version", "target_groups:\n  - {name: app, port: 80, protocol_version: HTTP3}\nload_balancers: [{name: web}]\n",
			[]string{`2: target_groups[0].protocol_version: must be HTTP1, HTTP2 or GRPC, got "HTTP3"`}},
		{"GRPC group behind an HTTP listener", "load_balancers:\n  - name: web\n    listeners:\n      - {port: 80, default_actions: [{type: forward, target_group: app}]}\ntarget_groups: [{name: app, port: 80, protocol_version: GRPC}]\n",
			[]string{`4: load_balancers[0].listeners[0].default_actions[0].target_group: target group "app" has protocol_version GRPC, which needs an HTTPS listener (this one is HTTP)`}},
		{"target id missing", skeleton + "    targets:\n      - port: 80\n",
			[]string{`10: target_groups[0].targets[0].id: is required`}},
		{"target port", skeleton + "    targets:\n      - {id: 10.0.0.1, port: 0}\n",
			[]string{`10: target_groups[0].targets[0].port: must be an integer from 1 to 65535, got "0"`}},
		{"target duplicate", skeleton + "    targets:\n      - {id: 10.0.0.1, port: 80}\n      - {id: 10.0.0.1}\n      - {id: '::1'}\n      - {id: '0:0::1', port: 80}\n",
			[]string{`11: target_groups[0].targets[1]: target 10.0.0.1:80 is already registered as targets[0]`,
				`13: target_groups[0].targets[3]: target [::1]:80 is already registered as targets[2]`}},
		{"target unknown key", skeleton + "    targets:\n      - {id: 10.0.0.1, weight: 5}\n",
			[]string{`10: target_groups[0].targets[0].weight: unknown key`}},

		// Health checks.
		{"health check ranges", withHealthCheck("interval_seconds: 301", "timeout_seconds: 1", "healthy_threshold_count: 11", "unhealthy_threshold_count: 1"), []string{
			`10: target_groups[0].health_check.interval_seconds: must be an integer from 5 to 300, got "301"`,
			`11: target_groups[0].health_check.timeout_seconds: must be an integer from 2 to 120, got "1"`,
			`12: target_groups[0].health_check.healthy_threshold_count: must be an integer from 2 to 10, got "11"`,
			`13: target_groups[0].health_check.unhealthy_threshold_count: must be an integer from 2 to 10, got "1"`}},
		{"health check timeout not below interval", withHealthCheck("interval_seconds: 10", "timeout_seconds: 10"),
			[]string{`11: target_groups[0].health_check.timeout_seconds: must be smaller than interval_seconds (10), got "10": a probe must finish before the next one starts`}},
		{"health check default timeout against explicit interval", withHealthCheck("interval_seconds: 4"),
			[]string{`10: target_groups[0].health_check.interval_seconds: must be an integer from 5 to 300, got "4"`}},
		{"health check bad interval has no ordering error", withHealthCheck("interval_seconds: often", "timeout_seconds: 60"),
			[]string{`10: target_groups[0].health_check.interval_seconds: must be an integer, got "often"`}},
		{"health check path", withHealthCheck("path: health"),
			[]string{`10: target_groups[0].health_check.path: must begin with "/", got "health"`}},
		{"health check path long", withHealthCheck("path: /" + strings.Repeat("a", 1024)),
			[]string{`10: target_groups[0].health_check.path: must be at most 1024 characters, got 1025`}},
		{"health check path space", withHealthCheck("path: /a b"),
			[]string{`10: target_groups[0].health_check.path: must contain only visible ASCII characters (no spaces), got "/a b"`}},
		{"health check port", withHealthCheck("port: 0"),
			[]string{`10: target_groups[0].health_check.port: must be traffic-port or a port from 1 to 65535, got "0"`}},
		{"health check matcher", withHealthCheck("matcher: 200-500"),
			[]string{`10: target_groups[0].health_check.matcher: must be HTTP codes from 200 to 499 as a code (200), a list (200,202) or a range (200-299), got "200-500"`}},
		{"health check matcher reversed", withHealthCheck("matcher: 299-200"),
			[]string{`10: target_groups[0].health_check.matcher: must be HTTP codes from 200 to 499 as a code (200), a list (200,202) or a range (200-299); a range must go from low to high, got "299-200"`}},
		{"health check disabled", withHealthCheck("enabled: false"),
			[]string{`10: target_groups[0].health_check.enabled: health checks cannot be disabled for a target group of type ip, got false`}},
		{"health check enabled type", withHealthCheck("enabled: maybe"),
			[]string{`10: target_groups[0].health_check.enabled: must be true or false, got "maybe"`}},
		{"health check protocol", withHealthCheck("protocol: TCP"),
			[]string{`10: target_groups[0].health_check.protocol: must be HTTP or HTTPS, got "TCP"`}},
		{"health check unknown key", withHealthCheck("interval: 10"),
			[]string{`10: target_groups[0].health_check.interval: unknown key (did you mean "interval_seconds"?)`}},

		// Load balancer attributes.
		{"idle timeout", withLBAttrs("idle_timeout.timeout_seconds: 0"),
			[]string{`4: load_balancers[0].attributes.idle_timeout.timeout_seconds: must be an integer from 1 to 4000, got "0"`}},
		{"idle timeout float", withLBAttrs("idle_timeout.timeout_seconds: 1.5"),
			[]string{`4: load_balancers[0].attributes.idle_timeout.timeout_seconds: must be an integer from 1 to 4000, got "1.5"`}},
		{"client keep-alive", withLBAttrs("client_keep_alive.seconds: 59"),
			[]string{`4: load_balancers[0].attributes.client_keep_alive.seconds: must be an integer from 60 to 604800, got "59"`}},
		{"desync mode", withLBAttrs("routing.http.desync_mitigation_mode: Strictest"),
			[]string{`4: load_balancers[0].attributes.routing.http.desync_mitigation_mode: must be one of monitor, defensive or strictest, got "Strictest" (values are case-sensitive: "strictest")`}},
		{"xff mode", withLBAttrs("routing.http.xff_header_processing.mode: drop"),
			[]string{`4: load_balancers[0].attributes.routing.http.xff_header_processing.mode: must be one of append, preserve or remove, got "drop"`}},
		{"boolean", withLBAttrs("routing.http2.enabled: yes", "waf.fail_open.enabled: 1"), []string{
			`4: load_balancers[0].attributes.routing.http2.enabled: must be true or false, got "yes"`,
			`5: load_balancers[0].attributes.waf.fail_open.enabled: must be true or false, got "1"`}},
		{"cross zone on an ALB", withLBAttrs("load_balancing.cross_zone.enabled: false"),
			[]string{`4: load_balancers[0].attributes.load_balancing.cross_zone.enabled: must be true: cross-zone load balancing is always on for an Application Load Balancer, got "false"`}},
		{"log bucket required", withLBAttrs("connection_logs.s3.enabled: true"),
			[]string{`4: load_balancers[0].attributes.connection_logs.s3.bucket: is required when connection_logs.s3.enabled is true`}},
		{"log bucket name", withLBAttrs("access_logs.s3.bucket: My_Bucket"),
			[]string{`4: load_balancers[0].attributes.access_logs.s3.bucket: must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit), got "My_Bucket"`}},
		{"log prefix", withLBAttrs("health_check_logs.s3.prefix: x/AWSLogs"),
			[]string{`4: load_balancers[0].attributes.health_check_logs.s3.prefix: must not contain "AWSLogs" (AWS adds it to every log key itself), got "x/AWSLogs"`}},
		{"unknown attribute", withLBAttrs("idle_timeout.timeout_second: 5"),
			[]string{`4: load_balancers[0].attributes.idle_timeout.timeout_second: unknown load balancer attribute (did you mean "idle_timeout.timeout_seconds"?)`}},
		{"unknown attribute far", withLBAttrs("turbo: true"),
			[]string{`4: load_balancers[0].attributes.turbo: unknown load balancer attribute`}},
		{"nested attribute", withLBAttrs("idle_timeout:", "  timeout_seconds: 5"),
			[]string{`4: load_balancers[0].attributes.idle_timeout: unknown load balancer attribute: attribute keys are written flat, as AWS spells them (did you mean "idle_timeout.timeout_seconds"?)`}},
		{"attribute list value", withLBAttrs("idle_timeout.timeout_seconds: [60]"),
			[]string{`4: load_balancers[0].attributes.idle_timeout.timeout_seconds: must be a single value, got a list`}},
		{"NLB attribute", withLBAttrs("dns_record.client_routing_policy: any_availability_zone"),
			[]string{`4: load_balancers[0].attributes.dns_record.client_routing_policy: is a Network Load Balancer attribute; it does not apply to an Application Load Balancer`}},
		{"target group attribute on a load balancer", withLBAttrs("deregistration_delay.timeout_seconds: 5"),
			[]string{`4: load_balancers[0].attributes.deregistration_delay.timeout_seconds: is a target group attribute, not a load balancer attribute`}},

		// Target group attributes.
		{"deregistration delay", withTGAttrs("deregistration_delay.timeout_seconds: 3601"),
			[]string{`10: target_groups[0].attributes.deregistration_delay.timeout_seconds: must be an integer from 0 to 3600, got "3601"`}},
		{"slow start range", withTGAttrs("slow_start.duration_seconds: 29"),
			[]string{`10: target_groups[0].attributes.slow_start.duration_seconds: must be 0 (off) or an integer from 30 to 900, got "29"`}},
		{"slow start and algorithm", withTGAttrs("slow_start.duration_seconds: 30", "load_balancing.algorithm.type: least_outstanding_requests"),
			[]string{`10: target_groups[0].attributes.slow_start.duration_seconds: slow start works only with load_balancing.algorithm.type round_robin, got load_balancing.algorithm.type "least_outstanding_requests"`}},
		{"anomaly mitigation", withTGAttrs("load_balancing.algorithm.anomaly_mitigation: on"),
			[]string{`10: target_groups[0].attributes.load_balancing.algorithm.anomaly_mitigation: can be "on" only when load_balancing.algorithm.type is weighted_random, got load_balancing.algorithm.type "round_robin"`}},
		{"algorithm", withTGAttrs("load_balancing.algorithm.type: random"),
			[]string{`10: target_groups[0].attributes.load_balancing.algorithm.type: must be one of round_robin, least_outstanding_requests or weighted_random, got "random"`}},
		{"cross zone", withTGAttrs("load_balancing.cross_zone.enabled: inherit"),
			[]string{`10: target_groups[0].attributes.load_balancing.cross_zone.enabled: must be one of true, false or use_load_balancer_configuration, got "inherit"`}},
		{"stickiness without cross zone", withTGAttrs("stickiness.enabled: true", "load_balancing.cross_zone.enabled: false"),
			[]string{`10: target_groups[0].attributes.stickiness.enabled: stickiness cannot be enabled when load_balancing.cross_zone.enabled is false`}},
		{"app cookie name required", withTGAttrs("stickiness.enabled: true", "stickiness.type: app_cookie"),
			[]string{`11: target_groups[0].attributes.stickiness.app_cookie.cookie_name: is required when stickiness.type is app_cookie and stickiness.enabled is true`}},
		{"app cookie name reserved", withTGAttrs("stickiness.app_cookie.cookie_name: AWSALBAPP-0"),
			[]string{`10: target_groups[0].attributes.stickiness.app_cookie.cookie_name: must not begin with AWSALB, AWSALBAPP or AWSALBTG (the load balancer's own cookies), got "AWSALBAPP-0"`}},
		{"app cookie name chars", withTGAttrs("stickiness.app_cookie.cookie_name: 'my cookie'"),
			[]string{"10: target_groups[0].attributes.stickiness.app_cookie.cookie_name: must be a cookie name (letters, digits and !#$%&'*+-.^_`|~), got \"my cookie\""}},
		{"cookie duration", withTGAttrs("stickiness.lb_cookie.duration_seconds: 604801"),
			[]string{`10: target_groups[0].attributes.stickiness.lb_cookie.duration_seconds: must be an integer from 1 to 604800, got "604801"`}},
		{"health percentage", withTGAttrs("target_group_health.dns_failover.minimum_healthy_targets.percentage: 101"),
			[]string{`10: target_groups[0].attributes.target_group_health.dns_failover.minimum_healthy_targets.percentage: must be "off" or an integer from 1 to 100, got "101"`}},
		{"routing count cannot be off", withTGAttrs("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count: off"),
			[]string{`10: target_groups[0].attributes.target_group_health.unhealthy_state_routing.minimum_healthy_targets.count: must be an integer from 1 to 1048576, got "off"`}},
		{"DNS threshold below routing threshold", withTGAttrs("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count: 2"),
			[]string{`10: target_groups[0].attributes.target_group_health.dns_failover.minimum_healthy_targets.count: must be at least target_group_health.unhealthy_state_routing.minimum_healthy_targets.count (2), got "1": the DNS failover threshold cannot be below the routing failover threshold`}},
		{"target idle timeout range", withTGAttrs("target_keep_alive.idle_timeout_seconds: 4001"),
			[]string{`10: target_groups[0].attributes.target_keep_alive.idle_timeout_seconds: must be 0 (unset) or an integer from 1 to 4000, got "4001"`}},
		{"retry mode", withTGAttrs("target_keep_alive.retry_mode: always"),
			[]string{`10: target_groups[0].attributes.target_keep_alive.retry_mode: must be one of safe or compat, got "always"`}},
		{"target idle timeout above load balancer idle timeout", withTGAttrs("target_keep_alive.idle_timeout_seconds: 61"),
			[]string{`10: target_groups[0].attributes.target_keep_alive.idle_timeout_seconds: must be at most idle_timeout.timeout_seconds (60) of load balancer "web", got "61": the load balancer already closes target connections idle that long, so a larger value never takes effect`}},
		{"lambda attribute", withTGAttrs("lambda.multi_value_headers.enabled: true"),
			[]string{`10: target_groups[0].attributes.lambda.multi_value_headers.enabled: applies only to lambda target groups; Albatross target groups are of type ip`}},
		{"load balancer attribute on a target group", withTGAttrs("idle_timeout.timeout_seconds: 30"),
			[]string{`10: target_groups[0].attributes.idle_timeout.timeout_seconds: is a load balancer attribute, not a target group attribute (for the idle time of target connections see target_keep_alive.idle_timeout_seconds)`}},
		{"attributes not a mapping", skeleton + "    attributes: [a, b]\n",
			[]string{`9: target_groups[0].attributes: must be a mapping of AWS attribute keys to values, got a list`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("albatross.yaml", []byte(c.yaml))
			want := make([]string, len(c.want))
			for i, w := range c.want {
				want[i] = "albatross.yaml:" + w
				if !startsWithDigit(w) {
					want[i] = "albatross.yaml: " + w
				}
			}
			if err == nil {
				t.Fatalf("no error; want:\n%s", strings.Join(want, "\n"))
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }
