package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// rulesListener compiles a listener with n path rules (the last one forwarding
// to target) and the given target group attributes, through config.Parse and
// snapshot.Compile as the node does. cond is the condition's format, given the
// rule's number: a wildcard pattern (pathWildcard) or a regular expression.
func rulesListener(b *testing.B, n int, target string, tgAttrs, cond string) *atomic.Pointer[snapshot.Listener] {
	host, port, _ := net.SplitHostPort(target)
	var y strings.Builder
	y.WriteString("load_balancers:\n  - name: lb\n    listeners:\n      - port: 8080\n        address: 127.0.0.1\n")
	y.WriteString("        default_actions: [{type: fixed-response, fixed_response: {status_code: \"404\"}}]\n        rules:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&y, "          - {priority: %d, conditions: [{path_pattern: "+cond+"}], actions: [{type: forward, target_group: app}]}\n", i, i)
	}
	fmt.Fprintf(&y, "target_groups:\n  - {name: app, port: 80, attributes: {%s}, targets: [{id: %s, port: %s}]}\n", tgAttrs, host, port)
	return compileListener(b, y.String(), discardLog{})
}

// compileListener compiles the configuration y through config.Parse and
// snapshot.Compile, as the node does, and returns its listener on
// 127.0.0.1:8080, logging to log.
func compileListener(tb testing.TB, y string, log snapshot.EntryLogger) *atomic.Pointer[snapshot.Listener] {
	tb.Helper()
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		tb.Fatal(err)
	}
	ids := map[string]string{}
	for i, k := range snapshot.IDKeys(cfg) {
		ids[k] = fmt.Sprintf("%016x", i+1)
	}
	s, err := snapshot.Compile(cfg, snapshot.Resources{IDs: ids, Pools: upstream.NewPools(upstream.Options{})})
	if err != nil {
		tb.Fatal(err)
	}
	l := s.Listeners[netip.MustParseAddrPort("127.0.0.1:8080")]
	l.LB.Log = log
	var p atomic.Pointer[snapshot.Listener]
	p.Store(l)
	return &p
}

// Path conditions of BenchmarkProxyRules, given the rule's number: wildcards,
// regular expressions anchored on the first segment (indexed like the
// wildcards), and ones that are not (every rule is tried in turn).
const (
	pathWildcard       = `["/svc%d/*"]`
	pathRegex          = `{regex_values: ["^/svc%d/"]}`
	pathRegexUnindexed = `{regex_values: ["/svc%d/[a-z]+$"]}`
)

// BenchmarkProxyRules measures a proxied keep-alive request routed by the last
// of n path rules, without and with lb_cookie stickiness (the request carries
// the cookie and the response re-issues it), and with regular expressions in
// place of the wildcards. allocs/op is the proxy's per-request allocation
// count, as in BenchmarkProxyKeepAlive.
func BenchmarkProxyRules(b *testing.B) {
	for _, c := range []struct {
		name, attrs string
		sticky      bool
		cond        string
	}{
		{"plain", "", false, pathWildcard},
		{"lb_cookie", "stickiness.enabled: true", true, pathWildcard},
		{"regex", "", false, pathRegex},
		{"regex_unindexed", "", false, pathRegexUnindexed},
	} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/rules=%d", c.name, n), func(b *testing.B) {
				addr := serve(b, quietProxy(), rulesListener(b, n, fixedTarget(b), c.attrs, c.cond))
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				head := fmt.Sprintf("GET /svc%d/items HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\n", n)
				buf := make([]byte, 4096)
				req := []byte(head + "\r\n")
				conn.Write(req)
				m, _ := conn.Read(buf)
				resp := string(buf[:m])
				if !strings.HasPrefix(resp, "HTTP/1.1 200 ") {
					b.Fatalf("response %q", resp)
				}
				if c.sticky {
					i := strings.Index(resp, "AWSALB=")
					if i < 0 {
						b.Fatalf("no AWSALB cookie in %q", resp)
					}
					v := resp[i+len("AWSALB="):]
					v = v[:strings.IndexByte(v, ';')]
					req = []byte(head + "Cookie: AWSALB=" + v + "\r\n\r\n")
					conn.Write(req)
					m, _ = conn.Read(buf)
				}
				expect := m
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := conn.Write(req); err != nil {
						b.Fatal(err)
					}
					got := 0
					for got < expect {
						k, err := conn.Read(buf[got:])
						if err != nil {
							b.Fatal(err)
						}
						got += k
					}
				}
			})
		}
	}
}
