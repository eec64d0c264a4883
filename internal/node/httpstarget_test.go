package node_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const httpsTargetTemplate = `load_balancers:
  - name: web
    access_log:
      path: {{.LogPath}}
    listeners:
      - port: {{.Port}}
        address: 127.0.0.1
        default_actions:
          - type: forward
            target_group: secure
target_groups:
  - name: secure
    protocol: HTTPS
    port: 443
    targets:
{{- range .Targets}}
      - {id: {{host .}}, port: {{port .}}}
{{- end}}
`

// An HTTPS target group speaks TLS to its targets without verifying their
// certificates (httptest's is self-signed for example.com), as ALB does.
func TestHTTPSTarget(t *testing.T) {
	var mu sync.Mutex
	var sawTLS []string
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			mu.Lock()
			sawTLS = append(sawTLS, r.Proto)
			mu.Unlock()
		}
		io.WriteString(w, "secret")
	}))
	target.StartTLS()
	defer target.Close()
	plain := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})

	for _, tc := range []struct {
		target, body string
		status       int
	}{
		{strings.TrimPrefix(target.URL, "https://"), "secret", 200},
		{plain.addr, "502 Bad Gateway", 502}, // no TLS on the other end
	} {
		ln := listenLoopback(t, "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		dir := t.TempDir()
		f := &lbFixture{t: t, addr: ln.Addr().String(), port: port, logPath: dir + "/access.log", dir: dir}
		yaml := renderConfig(t, httpsTargetTemplate, fixtureData{Port: port, LogPath: f.logPath, Targets: []string{tc.target}})
		f.node = startNode(t, ln, dir, yaml)
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("target %s: %d %q, want %d %q", tc.target, resp.StatusCode, body, tc.status, tc.body)
		}
		if e := f.logLines(1)[0]; e.ELBStatusCode != tc.status || e.Target.String() != tc.target {
			t.Errorf("logged %d for %v", e.ELBStatusCode, e.Target)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sawTLS) != 1 || sawTLS[0] != "HTTP/1.1" {
		t.Errorf("target saw TLS requests %v, want one HTTP/1.1", sawTLS)
	}
}
