package node_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/testop"
)

// BenchmarkJWTValidation measures the CPU of the whole process (client,
// load balancer, target) per HTTPS keep-alive request with a valid JWT from
// the real OP, its JWKS cached, against the same request to a rule without
// authentication.
func BenchmarkJWTValidation(b *testing.B) {
	op := testop.Start(b)
	target := startHTTPTarget(b, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ln := listenLoopback(b, "127.0.0.1:0")
	dir := b.TempDir()
	writeCert(b, dir, "default", "127.0.0.1")
	port := ln.Addr().String()
	yaml := fmt.Sprintf(jwtTemplate, filepath.Join(dir, "access.log"), mustPort(b, port), op.Issuer, portOf(target.addr))
	startNode(b, ln, dir, yaml, func(o *node.Options) { o.BaseDir = dir; o.AllowInsecureIdP = true })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	tok := op.Token("read")
	for _, bc := range []struct{ name, path string }{{"none", "/open/x"}, {"jwt", "/api/x"}} {
		b.Run(bc.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "https://"+port+bc.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			do := func() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", bc.path, resp.StatusCode)
				}
			}
			do() // the JWKS fetched, the connection open
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU(b)
			b.ResetTimer()
			for b.Loop() {
				do()
			}
			b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
	if n := op.KeysHits(); n != 1 {
		b.Fatalf("the JWKS was fetched %d times, want 1 (cached)", n)
	}
}

func mustPort(tb testing.TB, addr string) int {
	tb.Helper()
	var p int
	if _, err := fmt.Sscan(portOf(addr), &p); err != nil {
		tb.Fatal(err)
	}
	return p
}
