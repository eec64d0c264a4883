package demo

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

func TestDemoBalancesAndTailsTheLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := tlsLn.Addr().String()
	tlsLn.Close()

	ctx, cancel := context.WithCancel(context.Background())
	out := &testutil.SyncBuffer{}
	ready := make(chan string, 1)
	readyTLS := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Addr: addr, TLSAddr: tlsAddr, AdminAddr: "127.0.0.1:0", Out: out,
			Ready: func(u string) { ready <- u }, ReadyTLS: func(u string) { readyTLS <- u }})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("demo ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo not ready")
	}
	// The targets' first health checks run at once but not in the same
	// instant: until both passed, only the healthy one gets requests.
	seen := map[string]bool{}
	for i := 0; i < 200 && (i < 4 || !(seen["Hello from target-1"] && seen["Hello from target-2"])); i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[strings.SplitN(string(b), "\n", 2)[0]] = true
	}
	if !seen["Hello from target-1"] || !seen["Hello from target-2"] {
		t.Errorf("answers %v, want both targets", seen)
	}
	// The HTTPS listener, over HTTP/2.
	tlsURL := <-readyTLS
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(tlsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !strings.Contains(string(b), "X-Forwarded-Proto: https") {
		t.Errorf("HTTPS listener answered %s: %q", resp.Proto, b)
	}
	if names := resp.TLS.PeerCertificates[0].DNSNames; len(names) == 0 || names[0] != "localhost" {
		t.Errorf("demo certificate names %v", names)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\nhttp ") < 4 || !strings.Contains(out.String(), "\nh2 ") {
		if time.Now().After(deadline) {
			t.Fatalf("access log tail shows fewer than 4 lines:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
	// The dashboard's data counts the requests.
	m := regexp.MustCompile(`dashboard: (http://\S+/) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no dashboard in the banner:\n%s", out.String())
	}
	resp, err = http.Get(m[1] + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^albatross_logged_request_count_total\{load_balancer="app/demo/[0-9a-f]+"\} ([4-9]|[1-9][0-9]+)$`).Match(metricsText) {
		t.Errorf("demo metrics do not count the 4 requests:\n%s", metricsText)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}
	if !strings.Contains(out.String(), "Albatross demo: load balancer \"demo\" at "+url) {
		t.Errorf("banner missing:\n%s", out.String())
	}
}
