package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// lineLog keeps the access log lines of finished requests.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Log(e *accesslog.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(accesslog.AppendLine(nil, e)))
}

func (l *lineLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return l.lines[len(l.lines)-1]
}

// yamlListener compiles the one listener (127.0.0.1:8080) of a configuration
// whose target group "echo" holds target, as the node does.
func yamlListener(t *testing.T, rules, target string, log snapshot.EntryLogger) *atomic.Pointer[snapshot.Listener] {
	t.Helper()
	host, port, _ := net.SplitHostPort(target)
	y := "load_balancers:\n  - name: lb\n    listeners:\n      - port: 8080\n        address: 127.0.0.1\n" +
		"        default_actions: [{type: fixed-response, fixed_response: {status_code: \"404\", message_body: default}}]\n" +
		"        rules:\n" + rules +
		fmt.Sprintf("target_groups:\n  - {name: echo, port: 80, targets: [{id: %s, port: %s}]}\n", host, port)
	return compileListener(t, y, log)
}

// startEchoTarget answers with the request line's target and the Host header
// it received: "TARGET HOST".
func startEchoTarget(t *testing.T) string {
	return startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.RequestURI, r.Host)
	})
}

// send writes a raw request head on a new connection and returns the status
// and body of the answer.
func send(t *testing.T, addr, head string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRegexConditions: host_header, path_pattern and http_header conditions
// with regex_values route through a real listener to a real target, next to
// wildcard rules; the host regex sees the port the client sent.
func TestRegexConditions(t *testing.T) {
	target := startEchoTarget(t)
	fwd := "actions: [{type: forward, target_group: echo}]"
	fixed := func(body string) string {
		return "actions: [{type: fixed-response, fixed_response: {status_code: \"200\", message_body: " + body + "}}]"
	}
	rules := strings.Join([]string{
		`          - {priority: 1, conditions: [{path_pattern: {regex_values: ['^/api/v[0-9]+/users/[0-9]+$']}}], ` + fixed("users") + `}`,
		`          - {priority: 2, conditions: [{host_header: {regex_values: ['^(www\.)?shop\.example\.com:8443$']}}], ` + fixed("shop-8443") + `}`,
		`          - {priority: 3, conditions: [{host_header: {regex_values: ['^[a-z]+-(eu|us)\.example\.com$']}}, {path_pattern: [/r/*]}], ` + fixed("region") + `}`,
		`          - {priority: 4, conditions: [{http_header: {name: User-Agent, regex_values: ['(?i)mobile|android']}}], ` + fixed("mobile") + `}`,
		`          - {priority: 5, conditions: [{path_pattern: {regex_values: ['\.(png|jpg)$', '^/static/']}}], ` + fixed("static") + `}`,
		`          - {priority: 6, conditions: [{path_pattern: {values: ['/wild/*']}}], ` + fwd + `}`,
	}, "\n") + "\n"
	addr := serve(t, quietProxy(), yamlListener(t, rules, target, discardLog{}))
	for _, c := range []struct{ head, want string }{
		{"GET /api/v2/users/42 HTTP/1.1\r\nHost: a.example.com\r\n", "users"},
		{"GET /api/v2/users/42/x HTTP/1.1\r\nHost: a.example.com\r\n", "default"},
		{"GET /api/vX/users/42 HTTP/1.1\r\nHost: a.example.com\r\n", "default"},
		{"GET / HTTP/1.1\r\nHost: shop.example.com:8443\r\n", "shop-8443"},
		{"GET / HTTP/1.1\r\nHost: www.shop.example.com:8443\r\n", "shop-8443"},
		{"GET / HTTP/1.1\r\nHost: shop.example.com\r\n", "default"},
		{"GET http://shop.example.com:8443/ HTTP/1.1\r\nHost: other.example.com\r\n", "shop-8443"},
		{"GET /r/x HTTP/1.1\r\nHost: api-eu.example.com\r\n", "region"},
		{"GET /r/x HTTP/1.1\r\nHost: api-asia.example.com\r\n", "default"},
		{"GET /q/x HTTP/1.1\r\nHost: api-us.example.com\r\n", "default"},
		{"GET / HTTP/1.1\r\nHost: a.example.com\r\nUser-Agent: Foo Android 14\r\n", "mobile"},
		{"GET / HTTP/1.1\r\nHost: a.example.com\r\nUser-Agent: curl/8\r\nUser-Agent: MOBILE\r\n", "mobile"},
		{"GET / HTTP/1.1\r\nHost: a.example.com\r\nUser-Agent: curl/8\r\n", "default"},
		{"GET /img/a.png HTTP/1.1\r\nHost: a.example.com\r\n", "static"},
		{"GET /static/app.js HTTP/1.1\r\nHost: a.example.com\r\n", "static"},
		{"GET /wild/x?y=1 HTTP/1.1\r\nHost: a.example.com\r\n", "/wild/x?y=1 a.example.com:8080"},
	} {
		if _, got := send(t, addr, c.head); got != c.want {
			t.Errorf("%q: got %q, want %q", c.head, got, c.want)
		}
	}
}

// TestTransforms: host-header-rewrite and url-rewrite change what the target
// receives, after matching (the rule is chosen on the original request) and
// with capture groups; the access log keeps the original request and shows the
// rewritten host and URL; a rewrite that yields an invalid URL is answered 500.
func TestTransforms(t *testing.T) {
	target := startEchoTarget(t)
	rules := `          - priority: 1
            conditions: [{path_pattern: ["/api/*"]}]
            actions: [{type: forward, target_group: echo}]
            transforms:
              - type: url-rewrite
                url_rewrite: {rewrites: [{regex: '^/api/(v[0-9]+)/(.*)$', replace: '/$2?version=$1'}]}
              - type: host-header-rewrite
                host_header_rewrite: {rewrites: [{regex: '^mywebsite-(.+)\.com$', replace: 'internal.dev.$1.myweb.com'}]}
          - priority: 2
            conditions: [{path_pattern: ["/dp/*"]}]
            actions: [{type: forward, target_group: echo}]
            transforms:
              - type: url-rewrite
                url_rewrite: {rewrites: [{regex: '^/dp/([A-Za-z0-9]+)/?$', replace: '/dp.html?asin=$1'}]}
          - priority: 3
            conditions: [{path_pattern: ["/bad/*"]}]
            actions: [{type: forward, target_group: echo}]
            transforms:
              - type: url-rewrite
                url_rewrite: {rewrites: [{regex: '^/bad/(.*)$', replace: '$1'}]}
`
	log := &lineLog{}
	addr := serve(t, quietProxy(), yamlListener(t, rules, target, log))
	for _, c := range []struct {
		head       string
		status     int
		body       string
		logged     []string // substrings of the access log line
		notRouteTo string
	}{
		{"GET /api/v2/users/7 HTTP/1.1\r\nHost: mywebsite-example.com\r\n", 200, "/users/7?version=v2 internal.dev.example.myweb.com:8080",
			[]string{`"GET http://mywebsite-example.com:8080/api/v2/users/7 HTTP/1.1"`, `"internal.dev.example.myweb.com" "/users/7?version=v2" "TransformSuccess"`}, ""},
		// The host regex does not match: the host goes as it is; the URL
		// regex does not match either: no transform ran.
		{"GET /api/list HTTP/1.1\r\nHost: other.example.org\r\n", 200, "/api/list other.example.org:8080",
			[]string{`"GET http://other.example.org:8080/api/list HTTP/1.1"`, `"-" "-" "-"`}, ""},
		{"GET /dp/B0C1X2 HTTP/1.1\r\nHost: shop.example.com\r\n", 200, "/dp.html?asin=B0C1X2 shop.example.com:8080",
			[]string{`"-" "/dp.html?asin=B0C1X2" "TransformSuccess"`}, ""},
		// Rewritten to "x", which is not a URL a request can carry.
		{"GET /bad/x HTTP/1.1\r\nHost: shop.example.com\r\n", 500, "",
			[]string{` 500 - `, `"TransformFailed"`}, ""},
	} {
		status, body := send(t, addr, c.head)
		if status != c.status || (c.body != "" && body != c.body) {
			t.Errorf("%q: %d %q, want %d %q", c.head, status, body, c.status, c.body)
		}
		var line string
		waitFor(t, "the access log line", func() bool { line = log.last(); return strings.Contains(line, strings.Fields(c.head)[1]) })
		for _, want := range c.logged {
			if !strings.Contains(line, want) {
				t.Errorf("%q: access log line lacks %s:\n%s", c.head, want, line)
			}
		}
	}
}
