package proxy

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// parsed returns a conn whose current request is raw.
func parsed(t *testing.T, raw string) *conn {
	t.Helper()
	c := &conn{work: &work{buf: []byte(raw), reqStart: time.Unix(0x67891233, 0)}}
	if err := http1.ParseRequest(c.buf, &c.req); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return c
}

func TestTraceIDAsALB(t *testing.T) {
	const id = `1-67891233-[0-9a-f]{24}`
	cases := []struct{ header, want string }{
		{"", `^Root=` + id + `$`},
		{"Root=1-5759e988-bd862e3fe1be46a994272793", `^Self=` + id + `;Root=1-5759e988-bd862e3fe1be46a994272793$`},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;CalledFrom=app", `^Self=` + id + `;Root=1-5759e988-bd862e3fe1be46a994272793;CalledFrom=app$`},
		{"Self=1-00000000-000000000000000000000000;Root=1-5759e988-bd862e3fe1be46a994272793", `^Self=` + id + `;Root=1-5759e988-bd862e3fe1be46a994272793$`},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Self=1-00000000-000000000000000000000000;X=y", `^Root=1-5759e988-bd862e3fe1be46a994272793;Self=` + id + `;X=y$`},
		{"CalledFrom=app", `^Root=` + id + `;CalledFrom=app$`},
	}
	for _, tc := range cases {
		raw := "GET / HTTP/1.1\r\nHost: x\r\n"
		if tc.header != "" {
			raw += "X-Amzn-Trace-Id: " + tc.header + "\r\n"
		}
		c := parsed(t, raw+"\r\n")
		got := string(c.appendTraceID(nil))
		if !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("client sent %q: forwarded %q, want %s", tc.header, got, tc.want)
		}
	}
	// Over 7 KB of headers: a fresh Root only.
	c := parsed(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nX-Pad: "+strings.Repeat("p", 7<<10)+"\r\n\r\n")
	if got := string(c.appendTraceID(nil)); !regexp.MustCompile(`^Root=` + id + `$`).MatchString(got) {
		t.Errorf("large head: forwarded %q, want a fresh Root", got)
	}
}

func TestTargetHostAsALB(t *testing.T) {
	lb := &snapshot.LoadBalancer{DNSName: "web-0123456789abcdef.us-east-1.elb.localhost"}
	cases := []struct {
		port      int
		raw, want string
	}{
		{80, "GET / HTTP/1.1\r\nHost: Example.com:80\r\n\r\n", "example.com"},
		{443, "GET / HTTP/1.1\r\nHost: example.com:8443\r\n\r\n", "example.com"},
		{8080, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "example.com:8080"},
		{8080, "GET / HTTP/1.1\r\nHost: example.com:9999\r\n\r\n", "example.com:9999"},
		{8080, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", "[::1]:8080"},
		{8080, "GET http://Other.Example/path?q HTTP/1.1\r\nHost: ignored\r\n\r\n", "other.example:8080"},
		{8080, "GET / HTTP/1.0\r\n\r\n", "web-0123456789abcdef.us-east-1.elb.localhost:8080"},
	}
	for _, tc := range cases {
		c := parsed(t, tc.raw)
		l := &snapshot.Listener{LB: lb, Port: tc.port, PortText: strconv.Itoa(tc.port)}
		if got := string(appendTargetHost(nil, &c.req, nil, l)); got != tc.want {
			t.Errorf("port %d, %q: Host %q, want %q", tc.port, tc.raw, got, tc.want)
		}
	}
}

func TestOriginForm(t *testing.T) {
	for target, want := range map[string]string{
		"/a/b?c=d":                "/a/b?c=d",
		"*":                       "*",
		"http://host/a?b":         "/a?b",
		"HTTPS://host:8443/x":     "/x",
		"http://host":             "/",
		"http://host?q=1":         "/?q=1",
		"/http://not-absolute/x":  "/http://not-absolute/x",
		"http://[::1]:8080/p?q=r": "/p?q=r",
	} {
		if got := string(appendOriginForm(nil, []byte(target))); got != want {
			t.Errorf("appendOriginForm(%q) = %q, want %q", target, got, want)
		}
	}
}

func TestCountXFF(t *testing.T) {
	c := parsed(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2,3.3.3.3\r\nx-forwarded-for: 4.4.4.4, ,\r\n\r\n")
	if n := countXFF(&c.req); n != 4 {
		t.Errorf("counted %d addresses, want 4", n)
	}
}

func TestELBPageLengths(t *testing.T) {
	// Content-Length values seen on real ALB pages (spec §2.4).
	for code, want := range map[int]int{400: 122, 502: 122, 503: 162, 504: 132} {
		page := appendELBPage(nil, code)
		if len(page) != want || elbPageLen(code) != want {
			t.Errorf("%d page: %d bytes (computed %d), want %d", code, len(page), elbPageLen(code), want)
		}
	}
}
