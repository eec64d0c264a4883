package node_test

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// The end-to-end tests of listener rules, actions and target selection: real
// listeners, real targets, real clients, and the access log checked.

// nameTarget starts a target that answers with its name (and runs extra, if
// any, first).
func nameTarget(t *testing.T, name string, extra func(w http.ResponseWriter, r *http.Request)) *httpTarget {
	return startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if extra != nil {
			extra(w, r)
		}
		io.WriteString(w, name)
	})
}

// rulesData fills a rules test's configuration template: {{.Port}},
// {{.LogPath}} and {{target "name"}} (a target entry for a started target).
type rulesData struct {
	Port    int
	LogPath string
	targets map[string]*httpTarget
}

// renderRules renders a configuration template for f.
func renderRules(t *testing.T, tmpl string, f *lbFixture, targets map[string]*httpTarget) string {
	t.Helper()
	funcs := template.FuncMap{
		"target": func(name string) string {
			ht := targets[name]
			if ht == nil {
				t.Fatalf("no target %q", name)
			}
			h, p, _ := net.SplitHostPort(ht.addr)
			return fmt.Sprintf("{id: %s, port: %s}", h, p)
		},
	}
	var b strings.Builder
	d := rulesData{Port: f.port, LogPath: f.logPath, targets: targets}
	if err := template.Must(template.New("cfg").Funcs(funcs).Parse(tmpl)).Execute(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// startRulesLB starts a node on a configuration template (see rulesData).
func startRulesLB(t *testing.T, tmpl string, targets map[string]*httpTarget) *lbFixture {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	f := &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}
	f.node = startNode(t, ln, dir, renderRules(t, tmpl, f, targets))
	return f
}

// reload applies a new configuration template to a running fixture.
func (f *lbFixture) reload(tmpl string, targets map[string]*httpTarget) {
	f.t.Helper()
	cfg, err := config.Parse("reload.yaml", []byte(renderRules(f.t, tmpl, f, targets)))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.node.Apply(cfg); err != nil {
		f.t.Fatal(err)
	}
}

// tgARN returns the ARN of target group name in the node's snapshot.
func (f *lbFixture) tgARN(name string) string {
	for _, tg := range f.node.Snapshot().TargetGroups {
		if tg.Name == name {
			return tg.ARN
		}
	}
	f.t.Fatalf("no target group %q", name)
	return ""
}

// do sends a request through the load balancer and returns the response and
// its body.
func (f *lbFixture) do(client *http.Client, method, host, target string, header http.Header) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url(target), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, string(body)
}

// noRedirects is a client that returns redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

const everyConditionConfig = `load_balancers:
  - name: rules
    access_log: {path: {{.LogPath}}}
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        default_actions: [{type: forward, target_group: fallback}]
        rules:
          - priority: 1
            conditions: [{host_header: ["*.api.example.com"]}]
            actions: [{type: forward, target_group: host}]
          - priority: 2
            conditions: [{path_pattern: ["/v1/*", "/v2/?ing"]}]
            actions: [{type: forward, target_group: path}]
          - priority: 3
            conditions: [{http_header: {name: X-Env, values: ["canary", "beta-*"]}}]
            actions: [{type: forward, target_group: header}]
          - priority: 4
            conditions: [{http_request_method: [DELETE]}]
            actions: [{type: forward, target_group: method}]
          - priority: 5
            conditions: [{query_string: [{key: version, value: "v2*"}, {value: debug}]}]
            actions: [{type: forward, target_group: query}]
          - priority: 6
            conditions: [{source_ip: ["10.0.0.0/8"]}]
            actions: [{type: forward, target_group: host}]
          - priority: 7
            conditions: [{source_ip: ["127.0.0.0/8", "::1/128"]}, {path_pattern: ["/mine"]}]
            actions: [{type: forward, target_group: source}]
          - priority: 20
            conditions: [{path_pattern: ["/old/*"]}]
            actions:
              - type: redirect
                redirect: {protocol: HTTPS, port: "443", path: "/new/#{path}", status_code: HTTP_301}
          - priority: 30
            conditions: [{path_pattern: ["/maintenance"]}]
            actions:
              - type: fixed-response
                fixed_response: {status_code: "503", content_type: text/plain, message_body: "back soon"}
target_groups:
  - {name: fallback, port: 80, targets: [{{target "fallback"}}]}
  - {name: host, port: 80, targets: [{{target "host"}}]}
  - {name: path, port: 80, targets: [{{target "path"}}]}
  - {name: header, port: 80, targets: [{{target "header"}}]}
  - {name: method, port: 80, targets: [{{target "method"}}]}
  - {name: query, port: 80, targets: [{{target "query"}}]}
  - {name: source, port: 80, targets: [{{target "source"}}]}
`

// TestEveryConditionAndActionEndToEnd routes requests through a listener with
// a rule per condition type and a redirect and fixed-response rule, and checks
// what answered and what the access log says.
func TestEveryConditionAndActionEndToEnd(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{}
	for _, n := range []string{"fallback", "host", "path", "header", "method", "query", "source"} {
		targets[n] = nameTarget(t, n, nil)
	}
	f := startRulesLB(t, everyConditionConfig, targets)
	client := noRedirects()
	defer client.CloseIdleConnections()
	type want struct {
		status   int
		body     string
		priority int
		actions  string
		tg       string // target group name, "" for none
		redirect string
	}
	cases := []struct {
		name         string
		method, host string
		target       string
		header       http.Header
		want         want
	}{
		{"wildcard host", "GET", "eu.API.example.com", "/v1/x", nil, want{200, "host", 1, "forward", "host", ""}},
		{"host needs the subdomain", "GET", "api.example.com", "/x", nil, want{200, "fallback", 0, "forward", "fallback", ""}},
		{"path pattern", "GET", "www.example.com", "/v1/users", nil, want{200, "path", 2, "forward", "path", ""}},
		{"path ? wildcard", "GET", "www.example.com", "/v2/ping", nil, want{200, "path", 2, "forward", "path", ""}},
		{"path is case-sensitive", "GET", "www.example.com", "/V1/users", nil, want{200, "fallback", 0, "forward", "fallback", ""}},
		{"header value any case", "GET", "www.example.com", "/", http.Header{"X-Env": {"CANARY"}}, want{200, "header", 3, "forward", "header", ""}},
		{"header wildcard", "GET", "www.example.com", "/", http.Header{"X-Env": {"beta-7"}}, want{200, "header", 3, "forward", "header", ""}},
		{"method", "DELETE", "www.example.com", "/", nil, want{200, "method", 4, "forward", "method", ""}},
		{"query key and value, percent-decoded", "GET", "www.example.com", "/?VERSION=%76%32.1", nil, want{200, "query", 5, "forward", "query", ""}},
		{"query value under any key", "GET", "www.example.com", "/?mode=debug", nil, want{200, "query", 5, "forward", "query", ""}},
		{"source ip", "GET", "www.example.com", "/mine", nil, want{200, "source", 7, "forward", "source", ""}},
		{"redirect", "GET", "www.example.com", "/old/a/b?x=1", nil, want{301, "", 20, "redirect", "", "https://www.example.com:443/new/old/a/b?x=1"}},
		{"fixed response", "GET", "www.example.com", "/maintenance", nil, want{503, "back soon", 30, "fixed-response", "", ""}},
		{"default rule", "GET", "www.example.com", "/nothing", nil, want{200, "fallback", 0, "forward", "fallback", ""}},
	}
	for _, c := range cases {
		resp, body := f.do(client, c.method, c.host, c.target, c.header)
		if resp.StatusCode != c.want.status || (c.want.body != "" && body != c.want.body) {
			t.Errorf("%s: got %d %q, want %d %q", c.name, resp.StatusCode, body, c.want.status, c.want.body)
		}
		if c.want.redirect != "" && resp.Header.Get("Location") != c.want.redirect {
			t.Errorf("%s: Location %q, want %q", c.name, resp.Header.Get("Location"), c.want.redirect)
		}
	}
	lines := f.logLines(len(cases))
	for i, c := range cases {
		e := lines[i]
		wantARN := ""
		if c.want.tg != "" {
			wantARN = f.tgARN(c.want.tg)
		}
		if e.MatchedRulePriority != c.want.priority || e.ActionsExecuted != c.want.actions || e.TargetGroupARN != wantARN ||
			string(e.RedirectURL) != c.want.redirect || e.ELBStatusCode != c.want.status {
			t.Errorf("%s: logged priority %d actions %q target group %q redirect %q status %d; want %d %q %q %q %d", c.name,
				e.MatchedRulePriority, e.ActionsExecuted, e.TargetGroupARN, e.RedirectURL, e.ELBStatusCode,
				c.want.priority, c.want.actions, wantARN, c.want.redirect, c.want.status)
		}
		if c.want.tg == "" && (e.Target.IsValid() || e.TargetStatusCode != 0) {
			t.Errorf("%s: a %s logged target %s status %d, want none", c.name, c.want.actions, e.Target, e.TargetStatusCode)
		}
	}
	// ALB writes the log fields exactly so: check the raw text of two lines.
	raw := f.rawLogLines(len(cases))
	if !strings.Contains(raw[11], ` 20 `) || !strings.Contains(raw[11], ` "redirect" "https://www.example.com:443/new/old/a/b?x=1" "-" "-" "-" `) {
		t.Errorf("redirect line lacks its actions_executed and redirect_url: %s", raw[11])
	}
	if !strings.Contains(raw[13], ` 0 `) || !strings.Contains(raw[13], ` "forward" "-" "-" `) {
		t.Errorf("default rule line: %s", raw[13])
	}
}

// TestRedirectAndFixedResponseOnTheWire checks the exact responses of the two
// actions that the load balancer answers itself, for GET and HEAD.
func TestRedirectAndFixedResponseOnTheWire(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{}
	for _, n := range []string{"fallback", "host", "path", "header", "method", "query", "source"} {
		targets[n] = nameTarget(t, n, nil)
	}
	f := startRulesLB(t, everyConditionConfig, targets)

	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /old/x?y=1 HTTP/1.1\r\nHost: Shop.Example.com:"+fmt.Sprint(f.port)+"\r\n\r\n")
	resp, body := readResponse(t, br, "GET")
	wantPage := "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n</body>\r\n</html>\r\n"
	if resp.StatusCode != 301 || resp.Status != "301 Moved Permanently" || body != wantPage || resp.ContentLength != 134 {
		t.Errorf("redirect: %s, %d bytes %q", resp.Status, resp.ContentLength, body)
	}
	if loc := resp.Header.Get("Location"); loc != "https://Shop.Example.com:443/new/old/x?y=1" {
		t.Errorf("Location %q", loc)
	}
	if resp.Header.Get("Server") != "awselb/2.0" || resp.Header.Get("Content-Type") != "text/html" || resp.Close {
		t.Errorf("redirect headers %v (close %v)", resp.Header, resp.Close)
	}

	io.WriteString(c, "HEAD /maintenance HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = readResponse(t, br, "HEAD")
	if resp.StatusCode != 503 || resp.Status != "503 Service Temporarily Unavailable" || body != "" || resp.ContentLength != int64(len("back soon")) {
		t.Errorf("HEAD fixed response: %s, length %d, body %q", resp.Status, resp.ContentLength, body)
	}
	io.WriteString(c, "GET /maintenance HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = readResponse(t, br, "GET")
	if resp.StatusCode != 503 || body != "back soon" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Server") != "awselb/2.0" {
		t.Errorf("fixed response: %s %v %q", resp.Status, resp.Header, body)
	}
	lines := f.logLines(3)
	if e := lines[0]; string(e.RedirectURL) != "https://Shop.Example.com:443/new/old/x?y=1" || e.SentBytes < 134 || e.TargetGroupARN != "" {
		t.Errorf("redirect log: %+v", e)
	}
	if e := lines[2]; e.ELBStatusCode != 503 || e.TargetStatusCode != 0 || e.MatchedRulePriority != 30 || e.ActionsExecuted != "fixed-response" {
		t.Errorf("fixed response log: %+v", e)
	}
}

// shares counts which target answered n requests sent by workers clients in
// parallel.
func shares(t *testing.T, f *lbFixture, n, workers int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{}
			defer client.CloseIdleConnections()
			for i := 0; i < n/workers; i++ {
				resp, err := client.Get(f.url("/"))
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				counts[string(body)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts
}

// TestAlgorithmsSpreadEvenly sends 9,000 requests from 9 parallel clients
// over three equal targets with each algorithm: every target must get a third
// within 3 percentage points (5 for least outstanding requests; 1,800 requests
// and 2 points more under the race detector).
func TestAlgorithmsSpreadEvenly(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"a": nameTarget(t, "a", nil), "b": nameTarget(t, "b", nil), "c": nameTarget(t, "c", nil)}
	for _, algo := range []string{config.AlgorithmRoundRobin, config.AlgorithmLeastOutstandingRequests, config.AlgorithmWeightedRandom} {
		f := startRulesLB(t, groupTemplate("load_balancing.algorithm.type: "+algo, "a", "b", "c"), targets)
		n, tol := 9000, 0.03
		if raceEnabled {
			n, tol = 1800, 0.05
		}
		counts := shares(t, f, n, 9)
		// Least outstanding requests follows how busy each target happens
		// to be, so it gets a wider margin than the other two.
		if algo == config.AlgorithmLeastOutstandingRequests {
			tol += 0.02
		}
		for _, name := range []string{"a", "b", "c"} {
			if got := counts[name]; math.Abs(float64(got)-float64(n)/3) > tol*float64(n) {
				t.Errorf("%s: target %s got %d of %d requests, want %d ± %.0f%%", algo, name, got, n, n/3, 100*tol)
			}
		}
		t.Logf("%s: %v", algo, counts)
	}
}

// TestLeastOutstandingAvoidsBusyTarget holds one request on a target and
// checks that least_outstanding_requests sends everything else to the other.
func TestLeastOutstandingAvoidsBusyTarget(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	held := make(chan string, 1)
	hold := func(name string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				held <- name
				<-release
			}
		}
	}
	targets := map[string]*httpTarget{"a": nameTarget(t, "a", hold("a")), "b": nameTarget(t, "b", hold("b")), "c": nameTarget(t, "c", hold("c"))}
	f := startRulesLB(t, groupTemplate("load_balancing.algorithm.type: "+config.AlgorithmLeastOutstandingRequests, "a", "b"), targets)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(f.url("/slow"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	busy := <-held
	client := &http.Client{}
	defer client.CloseIdleConnections()
	for i := 0; i < 20; i++ {
		if _, body := f.do(client, "GET", "", "/", nil); body == busy {
			t.Fatalf("request %d went to %s, which has a request outstanding while the other has none", i, busy)
		}
	}
	close(release)
	<-done
}

const weightedConfig = `load_balancers:
  - name: weighted
    access_log: {path: {{.LogPath}}}
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        default_actions:
          - type: forward
            forward:
              target_groups: [{name: blue, weight: 90}, {name: green, weight: 10}]
              STICKY
target_groups:
  - {name: blue, port: 80, targets: [{{target "blue"}}]}
  - {name: green, port: 80, targets: [{{target "green"}}]}
`

// TestWeightedTargetGroups checks a 90/10 split over 5,000 requests (1,000
// under the race detector).
func TestWeightedTargetGroups(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"blue": nameTarget(t, "blue", nil), "green": nameTarget(t, "green", nil)}
	f := startRulesLB(t, strings.Replace(weightedConfig, "STICKY", "", 1), targets)
	n, tol := 5000, 0.02
	if raceEnabled {
		n, tol = 1000, 0.04
	}
	counts := shares(t, f, n, 5)
	if got := counts["green"]; math.Abs(float64(got)-0.1*float64(n)) > tol*float64(n) {
		t.Errorf("green got %d of %d requests, want %d ± %.0f%%", got, n, n/10, 100*tol)
	}
	t.Logf("90/10: %v", counts)
	e := f.logLines(1)[0]
	if e.TargetGroupARN != f.tgARN("blue") && e.TargetGroupARN != f.tgARN("green") {
		t.Errorf("logged target group %q", e.TargetGroupARN)
	}
}

// cookie returns the Set-Cookie header of resp that sets name, or "".
func setCookie(resp *http.Response, name string) string {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// cookieValue returns the value part of a Set-Cookie line.
func cookieValueOf(line string) string {
	v, _, _ := strings.Cut(line, ";")
	_, v, _ = strings.Cut(v, "=")
	return v
}

// checkStickyCookiePair checks the cookie and its CORS twin: same value, an
// Expires seven days ahead, Path=/, and SameSite=None; Secure on the twin.
func checkStickyCookiePair(t *testing.T, resp *http.Response, name string) string {
	t.Helper()
	c, cors := setCookie(resp, name), setCookie(resp, name+"CORS")
	if c == "" || cors == "" {
		t.Fatalf("response sets %s %q and %sCORS %q", name, c, name, cors)
	}
	v := cookieValueOf(c)
	parts := strings.Split(c, "; ")
	if len(parts) != 3 || !strings.HasPrefix(parts[1], "Expires=") || parts[2] != "Path=/" {
		t.Errorf("%s cookie %q, want VALUE; Expires=...; Path=/", name, c)
	} else if exp, err := time.Parse(http.TimeFormat, strings.TrimPrefix(parts[1], "Expires=")); err != nil || math.Abs(time.Until(exp).Hours()-7*24) > 1 {
		t.Errorf("%s cookie expires %q, want 7 days from now", name, parts[1])
	}
	if cors != name+"CORS="+v+"; "+strings.Join(parts[1:], "; ")+"; SameSite=None; Secure" {
		t.Errorf("%sCORS cookie %q does not mirror %q", name, cors, c)
	}
	return v
}

// TestTargetGroupStickiness: with group stickiness a client stays on the group
// its first request went to, whatever the weights; an unreadable cookie is
// logged as AWSALBTGCookieInvalid and replaced.
func TestTargetGroupStickiness(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"blue": nameTarget(t, "blue", nil), "green": nameTarget(t, "green", nil)}
	cfg := strings.Replace(weightedConfig, "STICKY", "stickiness: {enabled: true, duration_seconds: 3600}", 1)
	cfg = strings.Replace(cfg, "weight: 90}, {name: green, weight: 10}", "weight: 50}, {name: green, weight: 50}", 1)
	f := startRulesLB(t, cfg, targets)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	sent := 0
	for _, first := range []string{"blue", "green"} {
		// Find a client whose first request lands on this group.
		var cookie, got string
		for i := 0; i < 100 && got != first; i++ {
			sent++
			resp, body := f.do(client, "GET", "", "/", nil)
			got, cookie = body, checkStickyCookiePair(t, resp, "AWSALBTG")
		}
		if got != first {
			t.Fatalf("no request went to %s", first)
		}
		for i := 0; i < 30; i++ {
			sent++
			resp, body := f.do(client, "GET", "", "/", http.Header{"Cookie": {"AWSALBTG=" + cookie}})
			if body != first {
				t.Fatalf("request %d with the %s cookie went to %s", i, first, body)
			}
			cookie = checkStickyCookiePair(t, resp, "AWSALBTG")
		}
	}
	resp, _ := f.do(client, "GET", "", "/", http.Header{"Cookie": {"AWSALBTG=not%2Ba%2Bcookie"}})
	if resp.StatusCode != 200 || setCookie(resp, "AWSALBTG") == "" {
		t.Errorf("invalid cookie: %s, Set-Cookie %v", resp.Status, resp.Header.Values("Set-Cookie"))
	}
	lines := f.logLines(sent + 1)
	for i, e := range lines {
		want := ""
		if i == sent {
			want = "AWSALBTGCookieInvalid"
		}
		if e.ErrorReason != want {
			t.Errorf("log line %d: error_reason %q, want %q", i+1, e.ErrorReason, want)
		}
	}
}

// groupConfig is a listener forwarding to one target group with attributes
// ATTRS and targets TARGETS (see groupTemplate).
const groupConfig = `load_balancers:
  - name: group
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    port: 80
    attributes: {ATTRS}
    targets: [TARGETS]
`

// without returns names without drop.
func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// groupTemplate is groupConfig with the attributes attrs and the named
// targets.
func groupTemplate(attrs string, names ...string) string {
	var ts []string
	for _, n := range names {
		ts = append(ts, `{{target "`+n+`"}}`)
	}
	return strings.NewReplacer("ATTRS", attrs, "TARGETS", strings.Join(ts, ", ")).Replace(groupConfig)
}

// TestLBCookieStickiness: AWSALB binds a client to its target across requests,
// and moves it (with a new cookie) when that target is deregistered.
func TestLBCookieStickiness(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"a": nameTarget(t, "a", nil), "b": nameTarget(t, "b", nil), "c": nameTarget(t, "c", nil)}
	attrs := "stickiness.enabled: true, stickiness.type: lb_cookie, stickiness.lb_cookie.duration_seconds: 600"
	f := startRulesLB(t, groupTemplate(attrs, "a", "b", "c"), targets)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	resp, first := f.do(client, "GET", "", "/", nil)
	cookie := checkStickyCookiePair(t, resp, "AWSALB")
	for i := 0; i < 30; i++ {
		resp, body := f.do(client, "GET", "", "/", http.Header{"Cookie": {"other=1; AWSALB=" + cookie + "; x=y"}})
		if body != first {
			t.Fatalf("request %d with the cookie went to %s, want %s", i, body, first)
		}
		cookie = checkStickyCookiePair(t, resp, "AWSALB")
	}
	// Without the cookie the algorithm decides: round robin visits all three.
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		_, body := f.do(client, "GET", "", "/", nil)
		seen[body] = true
	}
	if len(seen) != 3 {
		t.Errorf("without the cookie requests went to %v, want all three targets", seen)
	}
	// The sticky target leaves: the client moves and gets a new binding.
	f.reload(groupTemplate(attrs, without([]string{"a", "b", "c"}, first)...), targets)
	resp, moved := f.do(client, "GET", "", "/", http.Header{"Cookie": {"AWSALB=" + cookie}})
	if moved == first || moved == "" {
		t.Fatalf("after %s left, the sticky request went to %q", first, moved)
	}
	cookie = checkStickyCookiePair(t, resp, "AWSALB")
	for i := 0; i < 10; i++ {
		if _, body := f.do(client, "GET", "", "/", http.Header{"Cookie": {"AWSALB=" + cookie}}); body != moved {
			t.Fatalf("request %d after the move went to %s, want %s", i, body, moved)
		}
	}
}

// TestAppCookieStickiness: once the target sets the application cookie, the
// load balancer adds AWSALBAPP-0; a client returning both stays on the target;
// without the application cookie it is not sticky; when the target leaves the
// session moves and stays on the new target.
func TestAppCookieStickiness(t *testing.T) {
	t.Parallel()
	setSession := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: "s1"})
		}
	}
	targets := map[string]*httpTarget{"a": nameTarget(t, "a", setSession), "b": nameTarget(t, "b", setSession), "c": nameTarget(t, "c", setSession)}
	attrs := "stickiness.enabled: true, stickiness.type: app_cookie, stickiness.app_cookie.cookie_name: SESSION"
	f := startRulesLB(t, groupTemplate(attrs, "a", "b", "c"), targets)
	client := &http.Client{}
	defer client.CloseIdleConnections()

	resp, _ := f.do(client, "GET", "", "/plain", nil)
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("a response without the application cookie got cookies %v", v)
	}
	resp, first := f.do(client, "GET", "", "/login", nil)
	app := setCookie(resp, "AWSALBAPP-0")
	if app == "" || setCookie(resp, "SESSION") == "" {
		t.Fatalf("login response cookies %v, want SESSION and AWSALBAPP-0", resp.Header.Values("Set-Cookie"))
	}
	if parts := strings.Split(app, "; "); len(parts) != 3 || !strings.HasPrefix(parts[1], "Expires=") || parts[2] != "Path=/" {
		t.Errorf("AWSALBAPP-0 cookie %q", app)
	}
	both := http.Header{"Cookie": {"SESSION=s1; AWSALBAPP-0=" + cookieValueOf(app)}}
	for i := 0; i < 20; i++ {
		resp, body := f.do(client, "GET", "", "/", both)
		if body != first {
			t.Fatalf("request %d with both cookies went to %s, want %s", i, body, first)
		}
		if setCookie(resp, "AWSALBAPP-0") == "" {
			t.Fatalf("request %d: the binding was not refreshed", i)
		}
	}
	seen := map[string]bool{}
	only := http.Header{"Cookie": {"AWSALBAPP-0=" + cookieValueOf(app)}}
	for i := 0; i < 6; i++ {
		_, body := f.do(client, "GET", "", "/", only)
		seen[body] = true
	}
	if len(seen) < 2 {
		t.Errorf("without the application cookie requests all went to %v; the client must return both cookies to be sticky", seen)
	}
	f.reload(groupTemplate(attrs, without([]string{"a", "b", "c"}, first)...), targets)
	resp, moved := f.do(client, "GET", "", "/", both)
	newApp := setCookie(resp, "AWSALBAPP-0")
	if moved == first || newApp == "" {
		t.Fatalf("after %s left: answered by %q with AWSALBAPP-0 %q", first, moved, newApp)
	}
	// The session stays on the new target, even when the old one returns.
	f.reload(groupTemplate(attrs, "a", "b", "c"), targets)
	both = http.Header{"Cookie": {"SESSION=s1; AWSALBAPP-0=" + cookieValueOf(newApp)}}
	for i := 0; i < 10; i++ {
		if _, body := f.do(client, "GET", "", "/", both); body != moved {
			t.Fatalf("request %d after failover went to %s, want %s", i, body, moved)
		}
	}
}

// TestSlowStartHoldsBackANewTarget registers a target into a group with slow
// start: right after, it gets (almost) nothing, while the group's old targets
// share the load.
func TestSlowStartHoldsBackANewTarget(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"a": nameTarget(t, "a", nil), "b": nameTarget(t, "b", nil), "new": nameTarget(t, "new", nil)}
	attrs := "slow_start.duration_seconds: 900"
	f := startRulesLB(t, groupTemplate(attrs, "a", "b"), targets)
	f.reload(groupTemplate(attrs, "a", "b", "new"), targets)
	const n = 600
	counts := shares(t, f, n, 3)
	// 900 s window: within the first seconds the new target's weight is below
	// 1%, so it should get a handful of requests at most.
	if counts["new"] > n/50 {
		t.Errorf("the target in slow start got %d of %d requests, want almost none", counts["new"], n)
	}
	if math.Abs(float64(counts["a"]-counts["b"])) > n/10 {
		t.Errorf("old targets got %d and %d, want an even split", counts["a"], counts["b"])
	}
	t.Logf("slow start just begun: %v", counts)
	// Without slow start the new target gets its third at once.
	f.reload(groupTemplate("slow_start.duration_seconds: 0", "a", "b", "new"), targets)
	counts = shares(t, f, n, 3)
	if math.Abs(float64(counts["new"])-n/3) > n/20 {
		t.Errorf("without slow start the new target got %d of %d, want a third", counts["new"], n)
	}
}

// TestAllWeightsZeroIs503: a forward action whose groups all have weight 0
// sends nothing anywhere; the client gets ALB's 503 page.
func TestAllWeightsZeroIs503(t *testing.T) {
	t.Parallel()
	targets := map[string]*httpTarget{"blue": nameTarget(t, "blue", nil), "green": nameTarget(t, "green", nil)}
	cfg := strings.Replace(weightedConfig, "weight: 90}, {name: green, weight: 10}", "weight: 0}, {name: green, weight: 0}", 1)
	f := startRulesLB(t, strings.Replace(cfg, "STICKY", "", 1), targets)
	raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 503, "Service Temporarily Unavailable", "close")
	e := f.logLines(1)[0]
	if e.ELBStatusCode != 503 || e.TargetGroupARN != "" || e.Target.IsValid() || e.ActionsExecuted != "forward" || e.MatchedRulePriority != 0 {
		t.Errorf("log: status %d target group %q target %v actions %q priority %d", e.ELBStatusCode, e.TargetGroupARN, e.Target, e.ActionsExecuted, e.MatchedRulePriority)
	}
	if len(targets["blue"].requests())+len(targets["green"].requests()) != 0 {
		t.Error("a target got a request")
	}
}
