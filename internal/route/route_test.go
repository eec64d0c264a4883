package route

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
)

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern string
		fold    bool
		escapes bool
		in      string
		want    bool
	}{
		// AWS's documented host examples.
		{"*.example.com", true, false, "test.example.com", true},
		{"*.example.com", true, false, "example.com", false},
		{"*.example.com", true, false, "a.b.example.com", true},
		{"example.com", true, false, "EXAMPLE.com", true},
		{"www.example.co?", true, false, "www.example.com", true},
		{"www.example.co?", true, false, "www.example.co", false},
		// Paths are case-sensitive and anchored at both ends.
		{"/img/*", false, false, "/img/a.jpg", true},
		{"/img/*", false, false, "/img", false},
		{"/img/*", false, false, "/IMG/a.jpg", false},
		{"/img/*", false, false, "/img/", true},
		{"/img/*/pics", false, false, "/img/2024/05/pics", true},
		{"/v2/?ing", false, false, "/v2/ping", true},
		{"/v2/?ing", false, false, "/v2/ing", false},
		{"*.jpg", false, false, "/a/b.jpg", true},
		{"*a*b", false, false, "xxaxxbxxb", true},
		{"*a*b", false, false, "xxaxxbxxc", false},
		{"a*", false, false, "a", true},
		{"*", false, false, "", true},
		{"?", false, false, "", false},
		{"/exact", false, false, "/exact/", false},
		// Query strings: escapes make wildcards literal.
		{`v\*`, true, true, "v*", true},
		{`v\*`, true, true, "v1", false},
		{`a\\b`, true, true, `a\b`, true},
		{`what\?`, true, true, "WHAT?", true},
	} {
		g := newGlob(c.pattern, c.fold, c.escapes)
		if got := g.match([]byte(c.in)); got != c.want {
			t.Errorf("%q matching %q: got %v, want %v", c.pattern, c.in, got, c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, c := range []struct{ target, path, query string }{
		{"/a/b?x=1&y", "/a/b", "x=1&y"},
		{"/a", "/a", ""},
		{"/a?", "/a", ""},
		{"http://h:80/p?q=1", "/p", "q=1"},
		{"HTTPS://h/p", "/p", ""},
		{"http://h?q", "/", "q"},
		{"http://h", "/", ""},
		{"/p#frag", "/p", ""},
		{"*", "*", ""},
	} {
		p, q := ParseTarget([]byte(c.target))
		if string(p) != c.path || string(q) != c.query {
			t.Errorf("%q: got %q %q, want %q %q", c.target, p, q, c.path, c.query)
		}
	}
}

// req builds a request for a URL-ish description.
func req(method, host, target string, headers ...string) *Request {
	r := &Request{Method: []byte(method), Host: []byte(host), Source: netip.MustParseAddr("192.0.2.1")}
	r.Path, r.Query = ParseTarget([]byte(target))
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, http1.Header{Name: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

func mustCompile(t testing.TB, rules []config.Rule) *Table {
	t.Helper()
	for _, r := range rules {
		if p := config.CheckRule(r); len(p) > 0 {
			t.Fatalf("rule %d invalid: %v", r.Priority, p)
		}
	}
	tab, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func rule(prio int, conds ...config.Condition) config.Rule {
	return config.Rule{Priority: prio, Conditions: conds, Actions: []config.Action{{Type: "forward", TargetGroup: "x"}}}
}

func TestMatchConditions(t *testing.T) {
	tab := mustCompile(t, []config.Rule{
		rule(50, config.Condition{PathPattern: []string{"/*"}}),
		rule(10, config.Condition{HostHeader: []string{"api.example.com", "*.api.example.com"}}, config.Condition{PathPattern: []string{"/v1/*", "/v2/?ing"}}),
		rule(11, config.Condition{HTTPHeader: &config.HTTPHeaderCondition{Name: "x-env", Values: []string{"canary", "beta*"}}}),
		rule(12, config.Condition{HTTPRequestMethod: []string{"DELETE", "PATCH"}}),
		rule(13, config.Condition{QueryString: []config.QueryStringPair{{Key: "version", Value: "v*"}, {Value: "debug"}}}),
		rule(14, config.Condition{SourceIP: []string{"10.0.0.0/8", "2001:db8::/32"}}),
		rule(15, config.Condition{QueryString: []config.QueryStringPair{{Key: "q", Value: `a\*b`}}}),
	})
	for _, c := range []struct {
		name string
		r    *Request
		src  string
		want int // priority, 0 = default
	}{
		{"host and path", req("GET", "API.example.com", "/v1/users"), "", 10},
		{"wildcard host", req("GET", "eu.api.example.com", "/v2/ping"), "", 10},
		{"host without path", req("GET", "api.example.com", "/v3/x"), "", 50},
		{"apex not matched by *.", req("GET", "example.com", "/v1/x"), "", 50},
		{"header any case", req("GET", "x.com", "", "X-ENV", "Canary"), "", 11},
		{"repeated header, second matches", req("GET", "x.com", "", "X-Env", "prod", "X-Env", "beta-2"), "", 11},
		{"header not matching", req("GET", "x.com", "", "X-Env", "prod"), "", 0},
		{"method", req("PATCH", "x.com", ""), "", 12},
		{"method case-sensitive", req("patch", "x.com", ""), "", 0},
		{"query key and value", req("GET", "x.com", "?a=1&VERSION=V2"), "", 13},
		{"query any key", req("GET", "x.com", "?mode=debug"), "", 13},
		{"query bare value", req("GET", "x.com", "?debug"), "", 13},
		{"query percent-decoded", req("GET", "x.com", "?%76ersion=v%31"), "", 13},
		{"query key wrong", req("GET", "x.com", "?versions=v1"), "", 0},
		{"query literal star", req("GET", "x.com", "?q=a%2Ab"), "", 15},
		{"query literal star, not a wildcard", req("GET", "x.com", "?q=axb"), "", 0},
		{"source v4", req("GET", "x.com", ""), "10.1.2.3", 14},
		{"source v6", req("GET", "x.com", ""), "2001:db8::5", 14},
		{"source v4-mapped", req("GET", "x.com", ""), "::ffff:10.9.9.9", 14},
		{"source outside", req("GET", "x.com", ""), "11.0.0.1", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.src != "" {
				c.r.Source = netip.MustParseAddr(c.src)
			}
			if c.r.Path == nil {
				c.r.Path = []byte("")
			}
			got := 0
			if m := tab.Match(c.r); m != nil {
				got = m.Priority
			}
			if got != c.want {
				t.Errorf("matched priority %d, want %d", got, c.want)
			}
		})
	}
}

func TestMatchPriorityOrderAndIndex(t *testing.T) {
	// Written out of order; the lowest priority that matches wins, whichever
	// index bucket each rule is in.
	rules := []config.Rule{
		rule(30, config.Condition{PathPattern: []string{"/a/*"}}),
		rule(20, config.Condition{HostHeader: []string{"h.example.com"}}),
		rule(10, config.Condition{HostHeader: []string{"h.example.com"}}, config.Condition{PathPattern: []string{"/a/b"}}),
		rule(5, config.Condition{HTTPRequestMethod: []string{"POST"}}),
	}
	tab := mustCompile(t, rules)
	for _, c := range []struct {
		r         *Request
		want, idx int
	}{
		{req("GET", "h.example.com", "/a/b"), 10, 2},
		{req("GET", "h.example.com", "/a/c"), 20, 1},
		{req("GET", "other.example.com", "/a/c"), 30, 0},
		{req("POST", "h.example.com", "/a/b"), 5, 3},
	} {
		m := tab.Match(c.r)
		if m == nil || m.Priority != c.want || m.Index != c.idx {
			t.Errorf("%s %s%s: got %+v, want priority %d index %d", c.r.Method, c.r.Host, c.r.Path, m, c.want, c.idx)
		}
	}
}

// linearMatch is the reference: every rule in priority order.
func linearMatch(t *Table, r *Request) *Rule {
	for i := range t.rules {
		if t.rules[i].matches(r) {
			return &t.rules[i]
		}
	}
	return nil
}

// TestIndexAgreesWithLinearScan checks the host/segment index against
// evaluating every rule, over random rule sets and requests.
func TestIndexAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"a.example.com", "b.example.com", "*.example.com", "c.exa?ple.com", "A.EXAMPLE.COM", "*.B.example.com", "*.com", "*a.example.com"}
	paths := []string{"/x/*", "/y", "/y/*", "/*", "/x*", "*.jpg", "/", "/x/?/z", "/y/z"}
	reqHosts := []string{"a.example.com", "B.example.com", "c.example.com", "example.com", "", "zz.example.com", "x.b.example.com", ".example.com", "com", "ba.example.com",
		"1.2.3.4.5.6.7.8.9.10.b.example.com", strings.Repeat("x", 130) + ".b.example.com", strings.Repeat("y", 200)}
	reqPaths := []string{"/x/1", "/y", "/y/z", "/x", "/xa", "/x/q/z", "/p.jpg", "/", "", "*", "/x/1.jpg"}
	for round := 0; round < 200; round++ {
		var rules []config.Rule
		n := 1 + rng.IntN(12)
		for i := 0; i < n; i++ {
			var conds []config.Condition
			if rng.IntN(3) > 0 {
				conds = append(conds, config.Condition{HostHeader: pick(rng, hosts, 1+rng.IntN(2))})
			}
			if rng.IntN(3) > 0 || len(conds) == 0 {
				conds = append(conds, config.Condition{PathPattern: pick(rng, paths, 1+rng.IntN(2))})
			}
			rules = append(rules, rule(i*7%50+1+i*50, conds...))
		}
		tab := mustCompile(t, rules)
		for _, h := range reqHosts {
			for _, p := range reqPaths {
				r := req("GET", h, p)
				if got, want := tab.Match(r), linearMatch(tab, r); got != want {
					t.Fatalf("rules %+v, request %q %q: index matched %+v, linear scan %+v", rules, h, p, got, want)
				}
			}
		}
	}
}

func pick(rng *rand.Rand, from []string, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		v := from[rng.IntN(len(from))]
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func TestMatchAllocatesNothing(t *testing.T) {
	tab := mustCompile(t, []config.Rule{
		rule(1, config.Condition{HostHeader: []string{"a.example.com"}}, config.Condition{PathPattern: []string{"/v1/*"}}),
		rule(2, config.Condition{QueryString: []config.QueryStringPair{{Key: "k", Value: "v*"}}}),
		rule(3, config.Condition{HTTPHeader: &config.HTTPHeaderCondition{Name: "X-A", Values: []string{"b"}}}),
	})
	r := req("GET", "A.Example.com", "/v2/x?z=1&k=%76al", "X-A", "c")
	tab.Match(r) // grows Scratch once
	if n := testing.AllocsPerRun(100, func() { tab.Match(r) }); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}

func TestRedirectLocation(t *testing.T) {
	in := &RedirectInput{Scheme: "http", Host: []byte("www.example.com"), Port: "80", Path: []byte("/old/a"), Query: []byte("x=1")}
	for _, c := range []struct {
		cfg  config.RedirectConfig
		in   *RedirectInput
		want string
	}{
		{config.RedirectConfig{Protocol: "HTTPS", Port: "443", StatusCode: "HTTP_301"}, in, "https://www.example.com:443/old/a?x=1"},
		{config.RedirectConfig{Host: "#{host}", Path: "/new/#{path}", Query: "#{query}", StatusCode: "HTTP_302"}, in, "http://www.example.com:80/new/old/a?x=1"},
		{config.RedirectConfig{Host: "example.org", Query: "from=#{host}&p=#{port}&s=#{protocol}", StatusCode: "HTTP_301"}, in, "http://example.org:80/old/a?from=www.example.com&p=80&s=http"},
		{config.RedirectConfig{Path: "/", Query: "", StatusCode: "HTTP_301"}, &RedirectInput{Scheme: "http", Host: []byte("h.example.com"), Port: "8080", Path: []byte("/x")}, "http://h.example.com:8080/"},
		{config.RedirectConfig{Protocol: "HTTPS", Path: "/#{path}", Query: "a=b", StatusCode: "HTTP_301"}, &RedirectInput{Scheme: "http", Host: []byte("h.example.com"), Port: "80", Path: []byte("/")}, "https://h.example.com:80/?a=b"},
	} {
		rd := CompileRedirect(c.cfg)
		if got := string(rd.AppendLocation(nil, c.in)); got != c.want {
			t.Errorf("%+v: got %s, want %s", c.cfg, got, c.want)
		}
	}
	if CompileRedirect(config.RedirectConfig{Protocol: "HTTPS", StatusCode: "HTTP_302"}).Status != 302 {
		t.Error("HTTP_302 is not 302")
	}
}

// benchTables builds rule sets of n rules in the shapes the issue names.
func benchTable(b *testing.B, shape string, n int) (*Table, *Request) {
	var rules []config.Rule
	for i := 0; i < n; i++ {
		var c []config.Condition
		switch shape {
		case "host":
			c = []config.Condition{{HostHeader: []string{fmt.Sprintf("svc%d.example.com", i)}}}
		case "wildcard-host":
			c = []config.Condition{{HostHeader: []string{fmt.Sprintf("*.svc%d.example.com", i)}}}
		case "path":
			c = []config.Condition{{PathPattern: []string{fmt.Sprintf("/svc%d/*", i)}}}
		case "host+path":
			c = []config.Condition{{HostHeader: []string{fmt.Sprintf("t%d.example.com", i%10)}}, {PathPattern: []string{fmt.Sprintf("/svc%d/*", i)}}}
		case "header":
			c = []config.Condition{{HTTPHeader: &config.HTTPHeaderCondition{Name: "X-Tenant", Values: []string{fmt.Sprintf("t%d", i)}}}}
		case "regex-path":
			c = []config.Condition{{PathPatternRegex: []string{fmt.Sprintf("^/svc%d/", i)}}}
		case "regex-path-unindexed":
			c = []config.Condition{{PathPatternRegex: []string{fmt.Sprintf("/svc%d/[a-z]+$", i)}}}
		case "regex-host":
			c = []config.Condition{{HostHeaderRegex: []string{fmt.Sprintf(`^svc%d\.example\.com$`, i)}}}
		}
		rules = append(rules, rule(i+1, c...))
	}
	tab := mustCompile(b, rules)
	last := n - 1 // the worst case for a linear scan: the last rule matches
	var r *Request
	switch shape {
	case "host":
		r = req("GET", fmt.Sprintf("SVC%d.example.com", last), "/api/items?x=1", "User-Agent", "bench", "Accept", "*/*")
	case "wildcard-host":
		r = req("GET", fmt.Sprintf("eu.api.SVC%d.example.com", last), "/api/items?x=1", "User-Agent", "bench", "Accept", "*/*")
	case "path", "host+path", "regex-path", "regex-path-unindexed":
		r = req("GET", fmt.Sprintf("t%d.example.com", last%10), fmt.Sprintf("/svc%d/items?x=1", last), "User-Agent", "bench", "Accept", "*/*")
	case "regex-host":
		r = req("GET", fmt.Sprintf("svc%d.example.com", last), "/api/items?x=1", "User-Agent", "bench", "Accept", "*/*")
	case "header":
		r = req("GET", "x.example.com", "/", "User-Agent", "bench", "X-Tenant", fmt.Sprintf("t%d", last))
	}
	if m := tab.Match(r); m == nil || m.Priority != n {
		b.Fatalf("%s/%d: matched %+v, want the last rule", shape, n, m)
	}
	return tab, r
}

// BenchmarkMatch measures matching with 1, 100 and 1,000 rules where the last
// rule matches. host, wildcard-host (*.NAME), path and host+path are indexed
// and should not grow with the rule count; header rules cannot be indexed and
// are the linear reference. regex-path (^/svcN/) is indexed like path;
// regex-path-unindexed and regex-host are tried rule by rule.
func BenchmarkMatch(b *testing.B) {
	for _, shape := range []string{"host", "wildcard-host", "path", "host+path", "header", "regex-path", "regex-path-unindexed", "regex-host"} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/rules=%d", shape, n), func(b *testing.B) {
				tab, r := benchTable(b, shape, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tab.Match(r)
				}
			})
		}
	}
}

// TestRegexFirstSegment: only an anchored regex whose literal text fixes the
// first path segment is indexed by it; a wrong index would hide a rule.
func TestRegexFirstSegment(t *testing.T) {
	for expr, want := range map[string]string{
		`^/v1/`: "v1", `^/v1/users/[0-9]+$`: "v1", `^/health$`: "health", `^/a\.b/`: "a.b",
		`/v1/`: "-", `^/v[12]/`: "-", `(?i)^/v1/`: "-", `^/v1`: "-", `^/v1|^/v2/`: "-", `^(/v1/)`: "-",
		`^/v1/|x`: "-", `^/v1+/`: "-", `^.*/v1/`: "-", `^/v1/?`: "-", `^/v1/?$`: "-",
	} {
		seg, ok := regexFirstSegment(expr)
		if !ok {
			seg = "-"
		}
		if seg != want {
			t.Errorf("%s: segment %q, want %q", expr, seg, want)
		}
		// Whatever the index says must agree with the regex itself.
		if ok {
			re := regexp.MustCompile(expr)
			for _, p := range []string{"/" + seg + "/x", "/" + seg, "/other/x", "/x/" + seg + "/"} {
				first := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 2)[0]
				if re.MatchString(p) && first != seg {
					t.Errorf("%s matches %s, whose first segment %q is not the indexed %q", expr, p, first, seg)
				}
			}
		}
	}
}
