package config

import (
	"reflect"
	"strings"
	"testing"
)

// issueRules is the rules example of the configuration reference, target
// groups included.
const issueRules = `load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: blue}]
        rules:
          - priority: 10
            conditions:
              - host_header: ["api.example.com", "*.api.example.com"]
              - path_pattern: ["/v1/*"]
              - http_header: {name: X-Env, values: ["canary"]}
            actions:
              - type: forward
                forward:
                  target_groups: [{name: blue, weight: 90}, {name: green, weight: 10}]
                  stickiness: {enabled: true, duration_seconds: 3600}
          - priority: 20
            conditions: [{path_pattern: ["/old/*"]}]
            actions:
              - type: redirect
                redirect: {protocol: HTTPS, port: "443", path: "/new/#{path}", status_code: HTTP_301}
          - priority: 30
            conditions:
              - http_request_method: ["GET"]
              - query_string: [{key: version, value: "v*"}, {value: "debug"}]
              - source_ip: ["10.0.0.0/8", "::1/128"]
            actions:
              - type: fixed-response
                fixed_response: {status_code: 503, content_type: text/plain, message_body: "back soon"}
target_groups:
  - {name: blue, port: 80}
  - {name: green, port: 80}
`

func TestRulesParse(t *testing.T) {
	cfg, err := Parse("albatross.yaml", []byte(issueRules))
	if err != nil {
		t.Fatal(err)
	}
	rules := cfg.LoadBalancers[0].Listeners[0].Rules
	if len(rules) != 3 {
		t.Fatalf("got %d rules", len(rules))
	}
	want0 := Rule{
		Priority: 10,
		Conditions: []Condition{
			{HostHeader: []string{"api.example.com", "*.api.example.com"}},
			{PathPattern: []string{"/v1/*"}},
			{HTTPHeader: &HTTPHeaderCondition{Name: "X-Env", Values: []string{"canary"}}},
		},
		Actions: []Action{{Type: ActionForward, Forward: &ForwardConfig{
			TargetGroups: []TargetGroupTuple{{"blue", 90}, {"green", 10}},
			Stickiness:   TargetGroupStickiness{Enabled: true, DurationSeconds: 3600},
		}}},
	}
	if !reflect.DeepEqual(rules[0], want0) {
		t.Errorf("rule 10:\n got %+v\nwant %+v", rules[0], want0)
	}
	// Omitted redirect components hold the placeholders that keep the
	// request's values, as AWS stores them.
	wantRedirect := RedirectConfig{Protocol: "HTTPS", Host: "#{host}", Port: "443", Path: "/new/#{path}", Query: "#{query}", StatusCode: "HTTP_301"}
	if got := *rules[1].Actions[0].Redirect; got != wantRedirect {
		t.Errorf("redirect: got %+v, want %+v", got, wantRedirect)
	}
	wantFixed := FixedResponseConfig{StatusCode: "503", ContentType: "text/plain", MessageBody: "back soon"}
	if got := *rules[2].Actions[0].FixedResponse; got != wantFixed {
		t.Errorf("fixed response: got %+v, want %+v", got, wantFixed)
	}
	c := rules[2].Conditions
	if c[1].Field() != FieldQueryString || !reflect.DeepEqual(c[1].QueryString, []QueryStringPair{{"version", "v*"}, {"", "debug"}}) {
		t.Errorf("query string condition: %+v", c[1])
	}
	if got := (Action{Type: ActionForward, TargetGroup: "blue"}).ForwardTargetGroups(); !reflect.DeepEqual(got, []TargetGroupTuple{{"blue", 1}}) {
		t.Errorf("short forward form: %+v", got)
	}
}

// withRules puts rule lines (indented as items of rules:) at line 7 onwards.
func withRules(lines ...string) string {
	return `load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: app}]
        rules:
` + indent(10, lines) + `target_groups:
  - {name: app, port: 80}
  - {name: other, port: 80}
`
}

func TestRuleValidationErrors(t *testing.T) {
	const r = "load_balancers[0].listeners[0].rules"
	fwd := "actions: [{type: forward, target_group: app}]"
	for _, c := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"duplicate priority", []string{
			"- {priority: 5, conditions: [{path_pattern: [/a]}], " + fwd + "}",
			"- {priority: 5, conditions: [{path_pattern: [/b]}], " + fwd + "}"},
			[]string{`8: ` + r + `[1].priority: priority 5 is already used by rules[0]; priorities must be unique within a listener`}},
		{"priority range", []string{"- {priority: 50001, conditions: [{path_pattern: [/a]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].priority: must be an integer from 1 to 50000, got 50001`}},
		{"priority missing", []string{"- {conditions: [{path_pattern: [/a]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].priority: is required (an integer from 1 to 50000; lower numbers are evaluated first)`}},
		{"no conditions", []string{"- {priority: 1, " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions: a rule needs at least one condition (only the default rule has none)`}},
		{"too many values", []string{
			"- priority: 1",
			"  conditions:",
			"    - host_header: [a.example.com, b.example.com, c.example.com]",
			"    - path_pattern: [/a, /b, /c]",
			"  " + fwd},
			[]string{`8: ` + r + `[0].conditions: a rule can only have 5 condition values, got 6`}},
		{"too many wildcards", []string{
			"- priority: 1",
			"  conditions:",
			"    - path_pattern: ['/a*b*c*', '/?x?y?']",
			"  " + fwd},
			[]string{`8: ` + r + `[0].conditions: a rule can only have 5 wildcards (* and ?) in its conditions, got 6`}},
		{"two host conditions", []string{
			"- priority: 1",
			"  conditions:",
			"    - host_header: [a.example.com]",
			"    - host_header: [b.example.com]",
			"  " + fwd},
			[]string{`10: ` + r + `[0].conditions[1]: a rule may have only one host_header condition; conditions[0] is one already (list several values in it instead)`}},
		{"bad host", []string{"- {priority: 1, conditions: [{host_header: [localhost]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].host_header[0]: must contain a '.' (a domain name such as example.com or *.example.com), got "localhost"`}},
		{"bad wildcard host", []string{"- {priority: 1, conditions: [{host_header: ['example.c*']}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].host_header[0]: may contain only letters after the last '.', got "example.c*"`}},
		{"bad path", []string{"- {priority: 1, conditions: [{path_pattern: ['/a?b=c']}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].path_pattern[0]: may contain only letters, digits and _-.$/~"'@:+&*? (no query string: use a query_string condition), got "/a?b=c"`}},
		{"bad query escape", []string{"- {priority: 1, conditions: [{query_string: [{value: 'a\\b'}]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].query_string[0].value: a backslash must escape *, ? or \ (write \\ for a literal backslash), got "a\\b"`}},
		{"query without value", []string{"- {priority: 1, conditions: [{query_string: [{key: a}]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].query_string[0].value: is required (leave out key to match any key)`}},
		{"host header condition", []string{"- {priority: 1, conditions: [{http_header: {name: Host, values: [a]}}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].http_header.name: cannot be Host; use a host_header condition`}},
		{"lower-case method", []string{"- {priority: 1, conditions: [{http_request_method: [get]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].http_request_method[0]: may contain only upper-case letters, '-' and '_' (methods are case-sensitive), got "get"`}},
		{"source ip without prefix", []string{"- {priority: 1, conditions: [{source_ip: [10.0.0.1]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].source_ip[0]: must be a CIDR block such as 10.0.0.1/32 (the prefix length is required), got "10.0.0.1"`}},
		{"two fields in one condition", []string{"- {priority: 1, conditions: [{path_pattern: [/a], host_header: [a.example.com]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0]: a condition has exactly one of host_header, path_pattern, http_header, http_request_method, query_string, source_ip; write each as its own list item`}},
		{"unknown condition", []string{"- {priority: 1, conditions: [{path: [/a]}], " + fwd + "}"},
			[]string{`7: ` + r + `[0].conditions[0].path: unknown key (did you mean "path_pattern"?)`,
				`7: ` + r + `[0].conditions[0]: must set one of host_header, path_pattern, http_header, http_request_method, query_string or source_ip`}},
		{"unknown target group", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: forward, target_group: ap}]}"},
			[]string{`7: ` + r + `[0].actions[0].target_group: target group "ap" is not defined (did you mean "app"?)`}},
		{"unknown weighted target group", []string{
			"- priority: 1",
			"  conditions: [{path_pattern: [/a]}]",
			"  actions:",
			"    - type: forward",
			"      forward: {target_groups: [{name: app}, {name: nope, weight: 1000}], stickiness: {enabled: true}}"},
			[]string{`11: ` + r + `[0].actions[0].forward.target_groups[1].weight: must be an integer from 0 to 999, got 1000`,
				`11: ` + r + `[0].actions[0].forward.stickiness.duration_seconds: must be an integer from 1 to 604800 when stickiness is enabled, got 0`,
				`11: ` + r + `[0].actions[0].forward.target_groups[1].name: target group "nope" is not defined`}},
		{"redirect to itself", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: redirect, redirect: {status_code: HTTP_302}}]}"},
			[]string{`7: ` + r + `[0].actions[0].redirect: a redirect must change at least one of protocol, host, port or path; as written it redirects to itself`}},
		{"redirect placeholder", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: redirect, redirect: {host: '#{path}.example.com', status_code: HTTP_301}}]}"},
			[]string{`7: ` + r + `[0].actions[0].redirect.host: may use only the placeholders #{host} here, got #{path}`}},
		{"redirect status", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: redirect, redirect: {protocol: HTTPS, status_code: 301}}]}"},
			[]string{`7: ` + r + `[0].actions[0].redirect.status_code: must be HTTP_301 or HTTP_302, got "301"`}},
		{"fixed response", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: fixed-response, fixed_response: {status_code: 302, content_type: text/xml}}]}"},
			[]string{`7: ` + r + `[0].actions[0].fixed_response.status_code: must be a 2XX, 4XX or 5XX code, got "302"`,
				`7: ` + r + `[0].actions[0].fixed_response.content_type: must be one of text/plain, text/css, text/html, application/javascript, application/json, got "text/xml"`}},
		{"fixed response body", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: fixed-response, fixed_response: {status_code: 200, message_body: '" + strings.Repeat("x", 1025) + "'}}]}"},
			[]string{`7: ` + r + `[0].actions[0].fixed_response.message_body: must be at most 1024 characters, got 1025`}},
		{"two actions", []string{"- {priority: 1, conditions: [{path_pattern: [/a]}], actions: [{type: forward, target_group: app}, {type: forward, target_group: app}]}"},
			[]string{`7: ` + r + `[0].actions[1]: only one forward, redirect or fixed-response action is allowed, got forward and forward`}},
		{"target group of another load balancer via a rule", nil, nil},
	} {
		if c.lines == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("albatross.yaml", []byte(withRules(c.lines...)))
			want := make([]string, len(c.want))
			for i, w := range c.want {
				want[i] = "albatross.yaml:" + w
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

func TestRuleTargetGroupOfAnotherLoadBalancer(t *testing.T) {
	y := `load_balancers:
  - name: a
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: one}]
  - name: b
    listeners:
      - port: 81
        default_actions: [{type: fixed-response, fixed_response: {status_code: "404"}}]
        rules:
          - {priority: 1, conditions: [{path_pattern: [/x]}], actions: [{type: forward, target_group: one}]}
target_groups:
  - {name: one, port: 80}
`
	_, err := Parse("albatross.yaml", []byte(y))
	want := `albatross.yaml:11: load_balancers[1].listeners[0].rules[0].actions[0].target_group: target group "one" is already used by load_balancers[0]; AWS allows one load balancer per target group`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestHTTPSListenerCannotRedirectToHTTP(t *testing.T) {
	y := `load_balancers:
  - name: web
    listeners:
      - port: 443
        protocol: HTTPS
        default_actions: [{type: redirect, redirect: {protocol: HTTP, status_code: HTTP_301}}]
`
	_, err := Parse("albatross.yaml", []byte(y))
	want := `load_balancers[0].listeners[0].default_actions[0].redirect.protocol: an HTTPS listener cannot redirect to HTTP`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want a problem %q", err, want)
	}
}

// TestRegexConditionsAndTransformsParse: regex_values and transforms in the
// file decode into the rule as written.
func TestRegexConditionsAndTransformsParse(t *testing.T) {
	cfg, err := Parse("albatross.yaml", []byte(withRules(
		`- priority: 1`,
		`  conditions:`,
		`    - host_header: {regex_values: ['^api\.(.+)\.example\.com$']}`,
		`    - path_pattern: {regex_values: ['^/v[0-9]+/']}`,
		`    - http_header: {name: User-Agent, regex_values: ['(?i)mobile']}`,
		`  actions: [{type: forward, target_group: app}]`,
		`  transforms:`,
		`    - {type: host-header-rewrite, host_header_rewrite: {rewrites: [{regex: '^api\.(.+)$', replace: 'internal.$1'}]}}`,
		`    - {type: url-rewrite, url_rewrite: {rewrites: [{regex: '^/v([0-9]+)/(.*)$', replace: '/$2?v=$1'}]}}`,
		`- {priority: 2, conditions: [{path_pattern: {values: ['/a/*']}}], actions: [{type: forward, target_group: app}]}`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.LoadBalancers[0].Listeners[0].Rules
	want := Rule{Priority: 1,
		Conditions: []Condition{
			{HostHeaderRegex: []string{`^api\.(.+)\.example\.com$`}},
			{PathPatternRegex: []string{`^/v[0-9]+/`}},
			{HTTPHeader: &HTTPHeaderCondition{Name: "User-Agent", RegexValues: []string{`(?i)mobile`}}},
		},
		Actions: []Action{{Type: ActionForward, TargetGroup: "app"}},
		Transforms: []Transform{
			{Type: TransformHostHeaderRewrite, HostHeaderRewrite: &RewriteConfig{Rewrites: []Rewrite{{`^api\.(.+)$`, "internal.$1"}}}},
			{Type: TransformURLRewrite, URLRewrite: &RewriteConfig{Rewrites: []Rewrite{{`^/v([0-9]+)/(.*)$`, "/$2?v=$1"}}}},
		},
	}
	if !reflect.DeepEqual(r[0], want) {
		t.Errorf("rule 1:\n got %+v\nwant %+v", r[0], want)
	}
	if got := r[1].Conditions[0].PathPattern; !reflect.DeepEqual(got, []string{"/a/*"}) {
		t.Errorf("path_pattern {values: [...]}: %v", got)
	}
}

// TestRegexAndTransformErrors: each bad regex condition or transform is
// refused with a message naming the rule and the field.
func TestRegexAndTransformErrors(t *testing.T) {
	const r = "load_balancers[0].listeners[0].rules[0]"
	fwd := "actions: [{type: forward, target_group: app}]"
	long := strings.Repeat("a", 129)
	for _, c := range []struct{ rule, want string }{
		{"{priority: 1, conditions: [{path_pattern: {regex_values: ['^/(a']}}], " + fwd + "}",
			r + ".conditions[0].path_pattern.regex_values[0]: is not a valid RE2 regular expression (missing closing ): `^/(a`; look-ahead, look-behind, backreferences and possessive quantifiers are not supported), got \"^/(a\""},
		{"{priority: 1, conditions: [{path_pattern: {regex_values: ['^/(?=a)']}}], " + fwd + "}",
			r + ".conditions[0].path_pattern.regex_values[0]: is not a valid RE2 regular expression (invalid or unsupported Perl syntax: `(?=`; look-ahead, look-behind, backreferences and possessive quantifiers are not supported), got \"^/(?=a)\""},
		{"{priority: 1, conditions: [{host_header: {regex_values: ['" + long + "']}}], " + fwd + "}",
			r + ".conditions[0].host_header.regex_values[0]: must be at most 128 characters, got 129"},
		{"{priority: 1, conditions: [{host_header: {regex_values: []}}], " + fwd + "}",
			r + ".conditions[0].host_header.regex_values: needs at least one value"},
		{"{priority: 1, conditions: [{host_header: {values: [a.example.com], regex_values: [a]}}], " + fwd + "}",
			r + ".conditions[0].host_header: set values or regex_values, not both (a condition matches wildcards or regular expressions)"},
		{"{priority: 1, conditions: [{http_header: {name: X-A, regex_values: [\"a\\tb\"]}}], " + fwd + "}",
			r + ".conditions[0].http_header.regex_values[0]: may contain only printable ASCII characters, got \"a\\tb\""},
		{"{priority: 1, conditions: [{path_pattern: {regex_value: [a]}}], " + fwd + "}",
			r + `.conditions[0].path_pattern.regex_value: unknown key (did you mean "regex_values"?)`},
		{"{priority: 1, conditions: [{path_pattern: {regex_values: [a, b, c, d, e, f]}}], " + fwd + "}",
			r + ".conditions: a rule can only have 5 condition values, got 6"},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: '^/(a', replace: /b}]}}]}",
			r + ".transforms[0].url_rewrite.rewrites[0].regex: is not a valid RE2 regular expression (missing closing ): `^/(a`; look-ahead, look-behind, backreferences and possessive quantifiers are not supported), got \"^/(a\""},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: '^/(a)$', replace: '/$2'}]}}]}",
			r + ".transforms[0].url_rewrite.rewrites[0].replace: refers to $2, but regex has 1 capture group(s)"},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: '^/(a)$', replace: '/b c'}]}}]}",
			r + `.transforms[0].url_rewrite.rewrites[0].replace: may contain only printable ASCII without spaces (a rewritten URL must stay valid), got "/b c"`},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: host-header-rewrite, host_header_rewrite: {rewrites: [{regex: '^a$', replace: 'b/c'}]}}]}",
			r + `.transforms[0].host_header_rewrite.rewrites[0].replace: must be host name text (no '/', '?', '#' or '@'), got "b/c"`},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: host-header-rewrite, host_header_rewrite: {rewrites: [{regex: '^a$', replace: ''}]}}]}",
			r + `.transforms[0].host_header_rewrite.rewrites[0].replace: is required: the host that replaces what regex matches`},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: a, replace: /b}]}}, {type: url-rewrite, url_rewrite: {rewrites: [{regex: a, replace: /c}]}}]}",
			r + ".transforms[1]: a rule may have only one url-rewrite transform; transforms[0] is one already"},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: path-rewrite}]}",
			r + `.transforms[0].type: must be host-header-rewrite or url-rewrite, got "path-rewrite"`},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite}]}",
			r + ".transforms[0].url_rewrite: is required for a url-rewrite transform: {rewrites: [{regex: ..., replace: ...}]}"},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: a, replace: /b}, {regex: c, replace: /d}]}}]}",
			r + ".transforms[0].url_rewrite.rewrites: may hold only 1 rewrite, got 2"},
		{"{priority: 1, conditions: [{path_pattern: [/a]}], " + fwd + ", transforms: [{type: url-rewrite, url_rewrite: {rewrites: [{regex: '" + strings.Repeat("a", 1025) + "', replace: /b}]}}]}",
			r + ".transforms[0].url_rewrite.rewrites[0].regex: must be at most 1024 characters, got 1025"},
	} {
		_, err := Parse("albatross.yaml", []byte(withRules("- "+c.rule)))
		want := "albatross.yaml:7: " + c.want
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", c.rule, err, want)
		}
	}
}
