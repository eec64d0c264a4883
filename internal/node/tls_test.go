package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/tlsconf"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// tlsFixture is a node with one HTTPS listener and three certificates: the
// default (default.test), an exact name (a.example.com) and a wildcard
// (*.example.com).
type tlsFixture struct {
	*lbFixture
	certs   map[string]*x509.Certificate // by first name
	connLog string
	cfgPath string
}

// tlsTemplate is defaultTemplate with an HTTPS listener (ssl_policy POLICY)
// and a connection log.
var tlsTemplate = strings.NewReplacer(
	"        protocol: HTTP\n", `        protocol: HTTPS
        ssl_policy: POLICY
        certificates:
          - {cert: default.crt, key: default.key}
          - {cert: a.crt, key: a.key, arn: "arn:aws:acm:us-east-1:000000000000:certificate/aaaaaaaa-0000-0000-0000-000000000001"}
          - {cert: wild.crt, key: wild.key}
`,
	"    listeners:\n", "    connection_log:\n      path: conn.log\n    listeners:\n",
).Replace(defaultTemplate)

// writeCert writes a self-signed certificate for names as dir/base.crt and
// dir/base.key and returns it parsed.
func writeCert(t testing.TB, dir, base string, names ...string) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM, err := tlsconf.SelfSigned(names, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, base+".crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, base+".key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startTLSLB(t *testing.T, targets []string, policy string, attrs map[string]string) *tlsFixture {
	t.Helper()
	return startTLSLBWith(t, targets, policy, attrs, "")
}

// startTLSLBWith is startTLSLB with listener attributes, a YAML flow mapping
// ("{key: value}"; "" for none).
func startTLSLBWith(t *testing.T, targets []string, policy string, attrs map[string]string, listenerAttrs string) *tlsFixture {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	f := &tlsFixture{
		lbFixture: &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir},
		certs:     map[string]*x509.Certificate{},
		connLog:   filepath.Join(dir, "conn.log"),
	}
	f.certs["default.test"] = writeCert(t, dir, "default", "default.test")
	f.certs["a.example.com"] = writeCert(t, dir, "a", "a.example.com")
	f.certs["*.example.com"] = writeCert(t, dir, "wild", "*.example.com")
	idle := 60
	if v, ok := attrs["idle_timeout.timeout_seconds"]; ok {
		idle, _ = strconv.Atoi(v)
		attrs = maps.Clone(attrs)
		delete(attrs, "idle_timeout.timeout_seconds")
	}
	tmpl := strings.Replace(tlsTemplate, "POLICY", policy, 1)
	if listenerAttrs != "" {
		tmpl = strings.Replace(tmpl, "        ssl_policy: "+policy+"\n", "        ssl_policy: "+policy+"\n        attributes: "+listenerAttrs+"\n", 1)
	}
	yaml := renderConfig(t, tmpl, fixtureData{Port: f.port, LogPath: f.logPath, Targets: targets, Idle: idle, Attrs: attrs})
	f.cfgPath = filepath.Join(dir, "albatross.yaml")
	os.WriteFile(f.cfgPath, []byte(yaml), 0o600)
	f.node = startNode(t, ln, dir, yaml, func(o *node.Options) { o.BaseDir = dir })
	return f
}

// client returns an HTTP client that trusts nothing in particular (the
// certificates are self-signed) and sends serverName as SNI.
func tlsClient(serverName string, h2 bool, mod func(*tls.Config)) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: serverName}
	if mod != nil {
		mod(cfg)
	}
	var rt http.RoundTripper
	if h2 {
		rt = &http2.Transport{TLSClientConfig: cfg}
	} else {
		rt = &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHTTPSChoosesCertificateBySNI(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	cases := []struct {
		sni, wantCert, wantDomain string
	}{
		{"a.example.com", "a.example.com", "a.example.com"},
		{"B.Example.com", "*.example.com", "b.example.com"},
		{"x.y.example.com", "default.test", ""}, // a wildcard covers one label only
		{"other.test", "default.test", ""},
		{"", "default.test", ""},
	}
	for i, tc := range cases {
		c := tlsClient(tc.sni, false, func(cfg *tls.Config) { cfg.ClientSessionCache = nil })
		resp, body := get(t, c, "https://"+f.addr+"/sni")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("%q: %d %q", tc.sni, resp.StatusCode, body)
		}
		if got := resp.TLS.PeerCertificates[0]; !got.Equal(f.certs[tc.wantCert]) {
			t.Errorf("SNI %q: served the certificate for %v, want %q", tc.sni, got.DNSNames, tc.wantCert)
		}
		c.CloseIdleConnections()
		e := f.logLines(i + 1)[i]
		if e.Type != "https" || e.SSLProtocol != "TLSv1.3" || e.SSLCipher != "TLS_AES_128_GCM_SHA256" {
			t.Errorf("SNI %q: type %q protocol %q cipher %q", tc.sni, e.Type, e.SSLProtocol, e.SSLCipher)
		}
		if e.DomainName != tc.wantDomain {
			t.Errorf("SNI %q: domain_name %q, want %q", tc.sni, e.DomainName, tc.wantDomain)
		}
		wantARN := tlsconf.CertificateARN("us-east-1", "000000000000", f.certs[tc.wantCert].Raw)
		if tc.wantCert == "a.example.com" {
			wantARN = "arn:aws:acm:us-east-1:000000000000:certificate/aaaaaaaa-0000-0000-0000-000000000001"
		}
		if e.ChosenCertARN != wantARN {
			t.Errorf("SNI %q: chosen_cert_arn %q, want %q", tc.sni, e.ChosenCertARN, wantARN)
		}
		if want := "GET https://" + strings.Split(f.addr, ":")[0] + ":" + portOf(f.addr) + "/sni HTTP/1.1"; string(e.Request) != want {
			t.Errorf("request %q, want %q", e.Request, want)
		}
	}
	if got := target.requests()[0].Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto %q, want https", got)
	}
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

func TestHTTPSPolicyEnforcesVersions(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	strict := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	tls10 := func(cfg *tls.Config) { cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 }
	if _, err := tlsClient("a.example.com", false, tls10).Get("https://" + strict.addr + "/"); err == nil {
		t.Fatal("TLS 1.0 handshake succeeded on a TLS 1.2+ policy")
	}
	// A CBC suite that the policy does not list.
	sha1 := func(cfg *tls.Config) {
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	}
	if _, err := tlsClient("a.example.com", false, sha1).Get("https://" + strict.addr + "/"); err == nil {
		t.Fatal("ECDHE-ECDSA-AES128-SHA accepted by a policy without it")
	}
	waitFor(t, "two TLS negotiation errors counted", func() bool {
		return strict.node.ClientTLSNegotiationErrors()["web"] == 2
	})
	lines := waitLines(t, strict.connLog, 2)
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) != 15 || fields[4] != "-" || fields[6] != "-" || fields[10] != "Failed:UnmappedConnectionError" || fields[3] != portOf(strict.addr) {
			t.Errorf("connection log line for a failed handshake: %q", l)
		}
	}

	old := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-2016-08", nil)
	resp, _ := get(t, tlsClient("a.example.com", false, tls10), "https://"+old.addr+"/")
	if resp.TLS.Version != tls.VersionTLS10 {
		t.Fatalf("negotiated %x", resp.TLS.Version)
	}
	e := old.logLines(1)[0]
	if e.SSLProtocol != "TLSv1" || e.SSLCipher != "ECDHE-ECDSA-AES128-SHA" {
		t.Errorf("TLS 1.0 logged as %q %q", e.SSLProtocol, e.SSLCipher)
	}
	conn := waitLines(t, old.connLog, 1)[0]
	if f := strings.Fields(conn); f[4] != "TLSv1" || f[5] != "ECDHE-ECDSA-AES128-SHA" || f[10] != "Success" || f[11] != e.ConnTraceID {
		t.Errorf("connection log line %q (access log conn_trace_id %s)", conn, e.ConnTraceID)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

// waitLines returns the lines of a log file once it has n.
func waitLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	waitFor(t, "log lines in "+path, func() bool {
		data, _ := os.ReadFile(path)
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		return len(data) > 0 && len(lines) >= n
	})
	return lines
}

func TestHTTP2ToHTTP1Target(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Body", string(body))
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // forces a chunked response
		}
		io.WriteString(w, "hello from "+r.URL.Path)
	})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	c := tlsClient("a.example.com", true, nil)
	for i, path := range []string{"/plain", "/chunked"} {
		resp, body := get(t, c, "https://"+f.addr+path+"?q=1")
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "hello from "+path || resp.Header.Get("X-Proto") != "HTTP/1.1" {
			t.Fatalf("%s: %s %d %q %v", path, resp.Proto, resp.StatusCode, body, resp.Header)
		}
		e := f.logLines(i + 1)[i]
		if e.Type != "h2" || !strings.HasSuffix(string(e.Request), path+"?q=1 HTTP/2.0") || e.ELBStatusCode != 200 || e.TargetStatusCode != 200 {
			t.Errorf("log: type %q request %q status %d/%d", e.Type, e.Request, e.ELBStatusCode, e.TargetStatusCode)
		}
	}
	// A body of unknown length travels chunked to the target.
	req, _ := http.NewRequest("POST", "https://"+f.addr+"/upload", io.NopCloser(strings.NewReader("streamed body")))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Body"); got != "streamed body" {
		t.Errorf("target got body %q", got)
	}
	reqs := target.requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get("X-Forwarded-Proto") != "https" || len(last.TransferEncoding) == 0 || last.TransferEncoding[0] != "chunked" {
		t.Errorf("target saw XFP %q TE %v", last.Header.Get("X-Forwarded-Proto"), last.TransferEncoding)
	}
}

// ELB-generated answers reach HTTP/2 clients with ALB's headers minus
// Connection.
func TestHTTP2ELBPage(t *testing.T) {
	f := startTLSLB(t, []string{closedPort(t)}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	resp, body := get(t, tlsClient("a.example.com", true, nil), "https://"+f.addr+"/")
	if resp.StatusCode != 502 || resp.Header.Get("Server") != "awselb/2.0" || !strings.Contains(body, "502 Bad Gateway") || resp.Header.Get("Connection") != "" {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
	e := f.logLines(1)[0]
	if e.Type != "h2" || e.ELBStatusCode != 502 {
		t.Errorf("logged %q %d", e.Type, e.ELBStatusCode)
	}
}

func TestHTTP2Disabled(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", map[string]string{"routing.http2.enabled": "false"})
	c, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN chose %q with routing.http2.enabled false", p)
	}
}

// Applying a configuration again reads the certificate files again: new
// handshakes get the new certificate, connections already open keep working,
// and a broken certificate file leaves the node serving the old one.
func TestCertificateReload(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	old := tlsClient("a.example.com", false, nil)
	resp, _ := get(t, old, "https://"+f.addr+"/")
	if !resp.TLS.PeerCertificates[0].Equal(f.certs["a.example.com"]) {
		t.Fatal("unexpected certificate before the reload")
	}

	renewed := writeCert(t, f.dir, "a", "a.example.com")
	apply := func() error {
		cfg, err := config.Load(f.cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		return f.node.Apply(cfg)
	}
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	resp, _ = get(t, tlsClient("a.example.com", false, nil), "https://"+f.addr+"/")
	if !resp.TLS.PeerCertificates[0].Equal(renewed) {
		t.Error("a new connection did not get the reloaded certificate")
	}
	// The connection opened before the reload still carries requests, on
	// the certificate it negotiated.
	resp, body := get(t, old, "https://"+f.addr+"/again")
	if body != "ok" || !resp.TLS.PeerCertificates[0].Equal(f.certs["a.example.com"]) {
		t.Errorf("old connection after reload: %q, certificate renewed: %v", body, resp.TLS.PeerCertificates[0].Equal(renewed))
	}
	if target.connCount() == 0 {
		t.Fatal("no target connection")
	}

	os.WriteFile(filepath.Join(f.dir, "a.crt"), []byte("not a certificate"), 0o600)
	if err := apply(); err == nil || !strings.Contains(err.Error(), "certificates[1]") {
		t.Fatalf("applying a broken certificate: %v", err)
	}
	resp, _ = get(t, tlsClient("a.example.com", false, nil), "https://"+f.addr+"/")
	if !resp.TLS.PeerCertificates[0].Equal(renewed) {
		t.Error("after a failed reload the listener does not serve the last good certificate")
	}
}

// A client that resets its HTTP/2 stream while the target works is a 460, as
// a client closing an HTTP/1.1 connection is.
func TestHTTP2ClientGone460(t *testing.T) {
	release := make(chan struct{})
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow" {
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	c := tlsClient("a.example.com", true, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+f.addr+"/slow", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the request to reach the target", func() bool { return len(target.requests()) == 1 })
	// target.requests counts from the handler's start; the load balancer is
	// then waiting for the response head.
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("request succeeded after it was cancelled")
	}
	e := f.logLines(1)[0]
	if e.Type != "h2" || e.ELBStatusCode != 460 || e.SentBytes != 0 || e.Target.String() != target.addr {
		t.Errorf("logged %q %d sent %d target %v", e.Type, e.ELBStatusCode, e.SentBytes, e.Target)
	}
	// The connection itself stays usable.
	if resp, body := get(t, c, "https://"+f.addr+"/"); resp.StatusCode != 200 || body != "" {
		t.Errorf("after a reset stream: %d %q", resp.StatusCode, body)
	}
}

func TestTLSVersionAndCipherHeaders(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06",
		map[string]string{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true"})
	c := tlsClient("a.example.com", false, func(cfg *tls.Config) { cfg.MaxVersion = tls.VersionTLS12 })
	req, _ := http.NewRequest("GET", "https://"+f.addr+"/", nil)
	req.Header.Set("X-Amzn-Tls-Version", "spoofed")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := target.requests()[0].Header
	if v := h.Values("X-Amzn-Tls-Version"); len(v) != 1 || v[0] != "TLSv1.2" {
		t.Errorf("X-Amzn-Tls-Version %q", v)
	}
	if v := h.Get("X-Amzn-Tls-Cipher-Suite"); v != "ECDHE-ECDSA-AES128-GCM-SHA256" {
		t.Errorf("X-Amzn-Tls-Cipher-Suite %q", v)
	}
}

// TestTLSHeadersRenamed: the listener attributes
// routing.http.request.x_amzn_tls_*.header_name send the TLS headers under
// the names given, and a client's copy of a renamed header is not forwarded.
func TestTLSHeadersRenamed(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLBWith(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06",
		map[string]string{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true"},
		"{routing.http.request.x_amzn_tls_version.header_name: X-TLS-Version, routing.http.request.x_amzn_tls_cipher_suite.header_name: X-TLS-Cipher}")
	c := tlsClient("a.example.com", false, func(cfg *tls.Config) { cfg.MaxVersion = tls.VersionTLS12 })
	req, _ := http.NewRequest("GET", "https://"+f.addr+"/", nil)
	req.Header.Set("X-TLS-Version", "spoofed")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := target.requests()[0].Header
	if v := h.Values("X-TLS-Version"); len(v) != 1 || v[0] != "TLSv1.2" {
		t.Errorf("X-TLS-Version %q", v)
	}
	if v := h.Get("X-TLS-Cipher"); v != "ECDHE-ECDSA-AES128-GCM-SHA256" {
		t.Errorf("X-TLS-Cipher %q", v)
	}
	if v := h.Values("X-Amzn-Tls-Version"); len(v) != 0 {
		t.Errorf("X-Amzn-Tls-Version still sent: %q", v)
	}
}

// An HTTP/2 connection carries at most 10,000 requests, as on ALB: then the
// load balancer sends GOAWAY and the client opens a new connection.
func TestHTTP2GoAwayAfter10000Requests(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests")
	}
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	var handshakes atomic.Int64
	c := tlsClient("a.example.com", true, func(cfg *tls.Config) {
		cfg.VerifyConnection = func(tls.ConnectionState) error { handshakes.Add(1); return nil }
	})
	const n = 10000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed atomic.Int64
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := c.Get("https://" + f.addr + "/")
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	if got := handshakes.Load(); got != 1 {
		t.Fatalf("10,000 requests took %d connections, want 1", got)
	}
	// The next request goes on a new connection (the old one's GOAWAY may
	// still be on its way: a request the server refuses is retried).
	resp, _ := get(t, c, "https://"+f.addr+"/")
	if resp.StatusCode != 200 || handshakes.Load() != 2 {
		t.Errorf("request 10,001: status %d on connection %d, want a second connection", resp.StatusCode, handshakes.Load())
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// An HTTP/2 connection without streams is closed after the idle timeout;
// PINGs do not keep it open, as on ALB.
func TestHTTP2IdleTimeout(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", map[string]string{"idle_timeout.timeout_seconds": "1"})
	c, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// PINGs every 100 ms meanwhile: they are not activity.
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if fr.WritePing(false, [8]byte{1}) != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-pinged }()
	var goAway bool
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the idle HTTP/2 connection was still open after 10 s")
			}
			break
		}
		if _, ok := frame.(*http2.GoAwayFrame); ok {
			goAway = true
		}
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("closed after %v, before the 1 s idle timeout", waited)
	}
	if !goAway {
		t.Error("closed without GOAWAY")
	}
}

// Desync classification is HTTP/1.x's: HTTP/2 requests are not graded, even
// in strictest mode, where an HTTP/1.1 GET with "Content-Length: 0"
// (Acceptable, GetHeadZeroContentLength) is blocked.
func TestHTTP2NotDesyncClassified(t *testing.T) {
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", map[string]string{"routing.http.desync_mitigation_mode": "strictest"})

	h1, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	io.WriteString(h1, "GET / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 0\r\n\r\n")
	h1.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, _ := io.ReadAll(io.LimitReader(h1, 12))
	if string(status) != "HTTP/1.1 400" {
		t.Fatalf("HTTP/1.1 in strictest mode: %q, want a 400", status)
	}

	h2, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	io.WriteString(h2, http2.ClientPreface)
	fr := http2.NewFramer(h2, h2)
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, hf := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example.com"}, {":path", "/"}, {"content-length", "0"}} {
		enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
	h2.SetReadDeadline(time.Now().Add(10 * time.Second))
	dec := hpack.NewDecoder(4096, nil)
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no response on the HTTP/2 stream: %v", err)
		}
		if hf, ok := frame.(*http2.HeadersFrame); ok && hf.StreamID == 1 {
			fields, _ := dec.DecodeFull(hf.HeaderBlockFragment())
			if len(fields) == 0 || fields[0].Name != ":status" || fields[0].Value != "200" {
				t.Fatalf("HTTP/2 in strictest mode: %v, want :status 200", fields)
			}
			break
		}
	}
	// The HTTP/1.1 line is written after its 400 is sent, so it may follow
	// the HTTP/2 line: find that one by type.
	lines := f.logLines(2)
	e := lines[1]
	if lines[0].Type == "h2" {
		e = lines[0]
	}
	if e.Type != "h2" || e.Classification != "" {
		t.Errorf("HTTP/2 line: type %q classification %q (lines %q, %q)", e.Type, e.Classification, lines[0].Type, lines[1].Type)
	}
}

// TestHTTP2LargeBodiesAndHEAD sends an HTTP/2 request body and receives a
// response body, each larger than every flow-control window on the way,
// through the load balancer to an HTTP/1.1 target; and a HEAD request and
// split Cookie fields, which reach the target as HTTP/1.1 has them.
func TestHTTP2LargeBodiesAndHEAD(t *testing.T) {
	const size = 6 << 20
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", n, h.Sum(nil)))
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
		w.Header().Set("Content-Length", fmt.Sprint(size))
		if r.Method == "HEAD" {
			return
		}
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for sent := 0; sent < size; sent += len(chunk) {
			w.Write(chunk)
		}
	})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	c := tlsClient("a.example.com", true, nil)
	up := bytes.Repeat([]byte("upload!"), size/7)
	resp, err := c.Post("https://"+f.addr+"/big", "application/octet-stream", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || resp.ProtoMajor != 2 {
		t.Fatalf("response body: %d bytes of %d over %s, %v", n, size, resp.Proto, err)
	}
	if want := fmt.Sprintf("%d %x", len(up), sha256.Sum256(up)); resp.Header.Get("X-Got") != want {
		t.Errorf("the target read %q, want %q", resp.Header.Get("X-Got"), want)
	}

	req, _ := http.NewRequest("HEAD", "https://"+f.addr+"/head", nil)
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != size || resp.Header.Get("X-Cookie") != "a=1; b=2" {
		t.Errorf("HEAD: %d, length %d, cookie at the target %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("X-Cookie"))
	}
	if e := f.logLines(2)[1]; e.Type != "h2" || e.ELBStatusCode != 200 || !strings.HasPrefix(string(e.Request), "HEAD ") {
		t.Errorf("HEAD logged %q %d %q", e.Type, e.ELBStatusCode, e.Request)
	}
}

// An HTTP/2 request's header fields reach the target in the order the client
// sent them, the values of a repeated name together at its first place.
// HTTP/2 carries fields in order; forwarding them from a Go map would shuffle
// them on every request.
func TestHTTP2HeaderOrderKept(t *testing.T) {
	target := startHeadTarget(t)
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)

	conn, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings()
	sent := [][2]string{
		{"x-order-zulu", "1"}, {"x-order-alpha", "2"}, {"x-order-mike", "3"}, {"x-order-bravo", "4"},
		{"x-order-alpha", "5"}, {"x-order-yankee", "6"}, {"x-order-charlie", "7"}, {"x-order-xray", "8"},
		{"x-order-delta", "9"},
	}
	want := []string{
		"x-order-zulu: 1", "x-order-alpha: 2", "x-order-alpha: 5", "x-order-mike: 3", "x-order-bravo: 4",
		"x-order-yankee: 6", "x-order-charlie: 7", "x-order-xray: 8", "x-order-delta: 9",
	}
	const requests = 3
	for i := range requests {
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for _, hf := range append([][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example.com"}, {":path", "/"}}, sent...) {
			enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
		}
		id := uint32(2*i + 1)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for ended := false; !ended; {
			frame, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("request %d: no response on the HTTP/2 stream: %v", i, err)
			}
			switch frame := frame.(type) {
			case *http2.DataFrame:
				ended = frame.StreamID == id && frame.StreamEnded()
			case *http2.HeadersFrame:
				ended = frame.StreamID == id && frame.StreamEnded()
			case *http2.RSTStreamFrame:
				t.Fatalf("request %d: stream reset: %v", i, frame.ErrCode)
			}
		}
	}
	heads, _, _ := target.snapshot()
	if len(heads) != requests {
		t.Fatalf("target saw %d requests, want %d", len(heads), requests)
	}
	for i, head := range heads {
		var got []string
		for _, line := range strings.Split(head, "\r\n") {
			if strings.HasPrefix(line, "x-order-") {
				got = append(got, line)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("request %d: target saw the fields\n%q\nwant\n%q", i, got, want)
		}
	}
}
