package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

const oidcBenchTemplate = `load_balancers:
  - name: bench
    listeners:
      - port: %[1]d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: bench.crt, key: bench.key}]
        rules:
          - priority: 1
            conditions: [{path_pattern: [/auth/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  issuer: %[2]s
                  authorization_endpoint: %[2]s/auth
                  token_endpoint: %[2]s/oauth/token
                  user_info_endpoint: %[2]s/userinfo
                  client_id: ` + opClientID + `
                  client_secret: ` + opClientSecret + `
                  scope: openid email profile
                  on_unauthenticated_request: authenticate
              - {type: forward, target_group: app, order: 2}
        default_actions:
          - {type: forward, target_group: app}
target_groups:
  - name: app
    port: 80
    targets: [{id: 127.0.0.1, port: %[3]d}]
`

// BenchmarkOIDCSession measures the CPU of a request with a valid session
// cookie (authenticate-oidc, then forward)
// against a request on the same listener with no authentication (forward
// only): one kept-alive TLS 1.3 connection carrying HTTP/1.1, to a target
// that answers every request with the same 2-byte body. cpu-µs/op is the
// whole process's CPU per request (client, load balancer and target; the
// client and target are the same in both), allocs/op the process's heap
// allocations. The session is a real one, from a login at zitadel's OP.
func BenchmarkOIDCSession(b *testing.B) {
	addr, cookie := startOIDCBench(b)
	b.Run("auth=none", func(b *testing.B) { benchTLSRequests(b, addr, "/plain/x", "") })
	b.Run("auth=session", func(b *testing.B) { benchTLSRequests(b, addr, "/auth/x", cookie) })
}

// startOIDCBench starts the benchmark's node and provider, logs in, and
// returns the listener's address and the session's Cookie header value.
func startOIDCBench(b *testing.B) (string, string) {
	dir := b.TempDir()
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "bench.crt"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "bench.key"), keyPEM, 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	target := startFixedTarget(b)
	p := startIdP(b, "https://"+ap.String()+"/oauth2/idpresponse")
	cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(oidcBenchTemplate, ap.Port(), p.issuer, target.Port())))
	if err != nil {
		b.Fatal(err)
	}
	n, err := node.New(node.Options{
		Logger: slog.New(slog.DiscardHandler), DataDir: filepath.Join(dir, "data"), BaseDir: dir,
		Listeners: map[netip.AddrPort]net.Listener{ap: ln}, DisableHealthChecks: true, AllowInsecureIdP: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	if err := n.Apply(cfg); err != nil {
		b.Fatal(err)
	}
	s := &oidcStack{idp: p, web: &lbFixture{addr: ap.String()}}
	c := jarClient(b)
	cb := s.callbackURL(b, c, s.startLogin(b, c, "https://"+ap.String()+"/auth/x"), p.username())
	if resp, body := oidcGet(b, c, cb); resp.StatusCode != 302 {
		b.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	var parts []string
	for _, name := range cookieNames(c, "https://"+ap.String()) {
		if strings.HasPrefix(name, "AWSELBAuthSessionCookie-") {
			parts = append(parts, name+"="+cookieValue(c, "https://"+ap.String(), name))
		}
	}
	if len(parts) == 0 {
		b.Fatal("no session cookie after the login")
	}
	return ap.String(), strings.Join(parts, "; ")
}

// startFixedTarget starts a target that answers every request on every
// connection with the same small response, without allocating per request.
func startFixedTarget(b *testing.B) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 16<<10)
				for {
					// A request without a body: its head ends at an empty line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// benchTLSRequests sends GET path with cookie (none when "") b.N times on
// one kept-alive TLS connection and reports the process's CPU per request.
func benchTLSRequests(b *testing.B, addr, path, cookie string) {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := "GET " + path + " HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	reqb := []byte(req + "\r\n")
	br := bufio.NewReaderSize(c, 16<<10)
	one := func() {
		if _, err := c.Write(reqb); err != nil {
			b.Fatal(err)
		}
		status, err := br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
			b.Fatalf("GET %s: %q", path, status)
		}
		length := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if len(line) > 16 && bytes.EqualFold(line[:15], []byte("Content-Length:")) {
				length = 0
				for _, d := range bytes.TrimSpace(line[15:]) {
					length = length*10 + int(d-'0')
				}
			}
		}
		if length < 0 {
			b.Fatalf("GET %s: no Content-Length", path)
		}
		if _, err := br.Discard(length); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm the connection, pools and caches
		one()
	}
	b.ReportAllocs()
	cpu0 := testutil.ProcessCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		one()
	}
	b.StopTimer()
	b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}
