package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
)

func testSettings(t *testing.T, matcher string) *settings {
	t.Helper()
	m, err := config.ParseHTTPCodes(matcher)
	if err != nil {
		t.Fatal(err)
	}
	return &settings{thresholds: Thresholds{Healthy: 2, Unhealthy: 2}, interval: 5 * time.Second,
		timeout: 2 * time.Second, path: "/health?deep=1", matcher: m}
}

func addrOf(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	if strings.HasPrefix(s, "http") {
		s = s[strings.Index(s, "//")+2:]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestCheckRequestAndMatcher checks what a health check sends and how the
// matcher judges codes: single, list and range.
func TestCheckRequestAndMatcher(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		c := code
		mu.Unlock()
		w.WriteHeader(c)
		io.WriteString(w, strings.Repeat("x", 10000)) // a body the check reads and drops
	}))
	defer srv.Close()
	target := addrOf(t, srv.URL)
	cases := []struct {
		matcher string
		code    int
		pass    bool
	}{
		{"200", 200, true},
		{"200", 204, false},
		{"200,202", 202, true},
		{"200,202", 201, false},
		{"200-299", 299, true},
		{"200-299", 302, false},
		{"300-399", 302, true},
		{"404", 404, true},
		{"200-499", 500, false},
	}
	for _, tc := range cases {
		mu.Lock()
		code = tc.code
		mu.Unlock()
		res, _ := check(context.Background(), testSettings(t, tc.matcher), target, nil)
		if res.Pass != tc.pass || res.Code != tc.code {
			t.Errorf("matcher %s, code %d: %+v, want pass=%v", tc.matcher, tc.code, res, tc.pass)
		}
		if !tc.pass && res.Reason != ReasonResponseCodeMismatch {
			t.Errorf("matcher %s, code %d: reason %s", tc.matcher, tc.code, res.Reason)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	r := got[0]
	if r.Method != "GET" || r.RequestURI != "/health?deep=1" || r.Host != target.String() ||
		r.UserAgent() != "ELB-HealthChecker/2.0" || r.Proto != "HTTP/1.1" {
		t.Errorf("check request: %s %s %s Host=%s UA=%q", r.Method, r.RequestURI, r.Proto, r.Host, r.UserAgent())
	}
	if len(r.Header) != 1 { // User-Agent; Host is not in Header
		t.Errorf("check headers %v, want only Host and User-Agent", r.Header)
	}
	// Every check used its own connection.
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.RemoteAddr] = true
	}
	if len(seen) != len(got) {
		t.Errorf("%d checks used %d connections; every check needs a new one", len(got), len(seen))
	}
}

func TestCheckFailures(t *testing.T) {
	s := testSettings(t, "200")
	s.timeout = 300 * time.Millisecond

	// Nothing listens: the connection is refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := addrOf(t, ln.Addr().String())
	ln.Close()
	if res, _ := check(context.Background(), s, closed, nil); res.Pass || res.Reason != ReasonFailedHealthChecks {
		t.Errorf("refused: %+v", res)
	}

	// Accepts, never answers: timeout.
	hang := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	start := time.Now()
	if res, _ := check(context.Background(), s, hang, nil); res.Pass || res.Reason != ReasonTimeout {
		t.Errorf("hanging target: %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 300 ms check took %v", d)
	}

	// Answers garbage, or closes without an answer.
	garbage := rawServer(t, func(c net.Conn) { readRequest(c); io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n") })
	if res, _ := check(context.Background(), s, garbage, nil); res.Pass || res.Reason != ReasonFailedHealthChecks {
		t.Errorf("garbage: %+v", res)
	}
	hangup := rawServer(t, func(c net.Conn) { readRequest(c) })
	if res, _ := check(context.Background(), s, hangup, nil); res.Pass || res.Reason != ReasonFailedHealthChecks {
		t.Errorf("closed without answer: %+v", res)
	}

	// A 1xx is skipped; the final status counts. Chunked bodies are read.
	interim := rawServer(t, func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	})
	if res, _ := check(context.Background(), s, interim, nil); !res.Pass {
		t.Errorf("100 then 200: %+v", res)
	}
}

func TestCheckHTTPSAndPort(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	tls := addrOf(t, srv.URL)
	s := testSettings(t, "200")
	s.https = true
	// The traffic port is elsewhere; the health check port is the TLS server.
	s.port = tls.Port()
	traffic := netip.AddrPortFrom(tls.Addr(), 1)
	if res, _ := check(context.Background(), s, traffic, nil); !res.Pass {
		t.Errorf("HTTPS check on its own port (self-signed certificate): %+v", res)
	}
	s.https = false
	if res, _ := check(context.Background(), s, traffic, nil); res.Pass {
		t.Errorf("plain HTTP to a TLS port passed: %+v", res)
	}
}

// rawServer runs handle for every connection to a loopback listener.
func rawServer(t *testing.T, handle func(c net.Conn)) netip.AddrPort {
	t.Helper()
	return addrOf(t, testutil.Serve(t, handle))
}

// readRequest reads a request head.
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return
		}
	}
}
