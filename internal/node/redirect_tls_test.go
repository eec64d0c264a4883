package node_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/node"
)

// The classic ALB pair: an HTTP listener whose default action redirects to
// the HTTPS listener, which forwards. A client that follows redirects ends on
// TLS, and both hops are logged.
func TestRedirectHTTPToHTTPS(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.URL.RequestURI()+" via "+r.Header.Get("X-Forwarded-Proto"))
	})
	plainLn := listenLoopback(t, "127.0.0.1:0")
	tlsLn := listenLoopback(t, "127.0.0.1:0")
	plainPort := plainLn.Addr().(*net.TCPAddr).Port
	tlsPort := tlsLn.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	writeCert(t, dir, "site", "www.example.com")
	yaml := `load_balancers:
  - name: web
    access_log:
      path: access.log
    listeners:
      - port: ` + strconv.Itoa(plainPort) + `
        address: 127.0.0.1
        protocol: HTTP
        default_actions:
          - type: redirect
            redirect: {protocol: HTTPS, port: "` + strconv.Itoa(tlsPort) + `", status_code: HTTP_301}
      - port: ` + strconv.Itoa(tlsPort) + `
        address: 127.0.0.1
        protocol: HTTPS
        certificates:
          - {cert: site.crt, key: site.key}
        default_actions:
          - type: forward
            target_group: app
target_groups:
  - name: app
    port: 80
    targets:
      - {id: 127.0.0.1, port: ` + portOf(target.addr) + `}
`
	startNode(t, plainLn, dir, yaml, func(o *node.Options) {
		o.BaseDir = dir
		o.Listeners[tlsLn.Addr().(*net.TCPAddr).AddrPort()] = tlsLn
	})
	// Resolve www.example.com to the loopback listeners.
	dial := func(network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		return net.Dial(network, net.JoinHostPort("127.0.0.1", port))
	}
	var hops []string
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Dial:            dial,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			hops = append(hops, req.Response.Status+" -> "+req.URL.String())
			return nil
		},
	}
	resp, err := client.Get("http://www.example.com:" + strconv.Itoa(plainPort) + "/cart?id=7")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantURL := "https://www.example.com:" + strconv.Itoa(tlsPort) + "/cart?id=7"
	if len(hops) != 1 || hops[0] != "301 Moved Permanently -> "+wantURL {
		t.Fatalf("redirects %q, want one 301 to %s", hops, wantURL)
	}
	if resp.TLS == nil || string(body) != "secure /cart?id=7 via https" {
		t.Fatalf("final response (TLS %v): %q", resp.TLS != nil, body)
	}
	f := &lbFixture{t: t, logPath: filepath.Join(dir, "access.log")}
	lines := f.logLines(2)
	// Each line is written once its response is sent, so the client can
	// follow the redirect before the 301's line is down: order them by type.
	if lines[0].Type != "http" {
		lines[0], lines[1] = lines[1], lines[0]
	}
	if e := lines[0]; e.Type != "http" || e.ELBStatusCode != 301 || string(e.RedirectURL) != wantURL || e.ActionsExecuted != "redirect" {
		t.Errorf("redirect line: %q %d %q %q", e.Type, e.ELBStatusCode, e.RedirectURL, e.ActionsExecuted)
	}
	if e := lines[1]; e.Type != "https" || e.ELBStatusCode != 200 || e.DomainName != "www.example.com" || e.ActionsExecuted != "forward" {
		t.Errorf("forwarded line: %q %d %q %q", e.Type, e.ELBStatusCode, e.DomainName, e.ActionsExecuted)
	}
}
