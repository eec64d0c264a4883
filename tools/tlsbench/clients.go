package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// backendMain serves the target every proxy forwards to: 64 B on every path,
// keep-alive, as compare.py's backend answers "/".
func backendMain(args []string) {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9011", "listen address")
	body := fs.Int("body", 64, "response body bytes")
	fs.Parse(args)
	small := bytes.Repeat([]byte("x"), *body)
	srv := &http.Server{
		Addr:        *addr,
		IdleTimeout: 75 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Length", strconv.Itoa(len(small)))
			w.Write(small)
		}),
	}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// clientTLS is the client side every scenario offers: TLS 1.3 and X25519 (the
// servers restrict the cipher suite to TLS_AES_128_GCM_SHA256).
func clientTLS(cache tls.ClientSessionCache) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // the benchmark's own self-signed certificate
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: cache,
	}
}

// handshakeResult is what the handshakes subcommand prints, as JSON.
type handshakeResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Resumed  int     `json:"resumed"`
	Seconds  float64 `json:"seconds"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

// handshakesMain opens a new TLS connection per request over -conns workers
// for -duration: a full handshake each time, or with -resume one resuming the
// session the worker's previous connection was given. Each request is
// "Connection: close" and read to the end.
func handshakesMain(args []string) {
	fs := flag.NewFlagSet("handshakes", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9110", "proxy address")
	conns := fs.Int("conns", 16, "concurrent workers")
	duration := fs.Duration("duration", 8*time.Second, "how long to run")
	resume := fs.Bool("resume", false, "resume each worker's previous session")
	fs.Parse(args)
	req := []byte("GET / HTTP/1.1\r\nHost: bench.example\r\nConnection: close\r\n\r\n")
	start := time.Now()
	end := start.Add(*duration)
	var mu sync.Mutex
	var res handshakeResult
	var lat []time.Duration
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cache tls.ClientSessionCache
			if *resume {
				cache = tls.NewLRUClientSessionCache(4)
			}
			cfg := clientTLS(cache)
			cfg.ServerName = "bench.example"
			var mine []time.Duration
			n, errs, resumed := 0, 0, 0
			buf := make([]byte, 4096)
			for time.Now().Before(end) {
				t0 := time.Now()
				ok, didResume := oneRequest(*addr, cfg, req, buf)
				if !ok {
					errs++
					continue
				}
				mine = append(mine, time.Since(t0))
				n++
				if didResume {
					resumed++
				}
			}
			mu.Lock()
			res.Requests += n
			res.Errors += errs
			res.Resumed += resumed
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	slices.Sort(lat)
	res.P50ms = percentileMS(lat, 0.50)
	res.P99ms = percentileMS(lat, 0.99)
	json.NewEncoder(os.Stdout).Encode(res)
}

// oneRequest makes one request on a new TLS connection and reads the answer
// until the server closes; it reports success and whether the session resumed.
func oneRequest(addr string, cfg *tls.Config, req, buf []byte) (ok, resumed bool) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return false, false
	}
	if _, err := tc.Write(req); err != nil {
		return false, false
	}
	got := 0
	for {
		n, err := tc.Read(buf[got:])
		got += n
		if got == len(buf) {
			got = 0
		}
		if err != nil {
			break
		}
	}
	// A 200 status line is all the check needs; the body is 64 B.
	return bytes.HasPrefix(buf, []byte("HTTP/1.1 200")), tc.ConnectionState().DidResume
}

// percentileMS returns the q-quantile of sorted latencies in milliseconds.
func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(max(int(q*float64(len(sorted))+0.5)-1, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// idleMain opens -n keep-alive connections (TLS with -tls), sends one request
// on each, and holds them idle for -hold, writing -ready-file once all are
// open, as compare.py's idle tool does.
func idleMain(args []string) {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9110", "proxy address")
	n := fs.Int("n", 5000, "connections")
	useTLS := fs.Bool("tls", false, "connect with TLS")
	hold := fs.Duration("hold", 60*time.Second, "how long to hold them")
	ready := fs.String("ready-file", "", "file written once all connections are open")
	fs.Parse(args)
	cfg := clientTLS(nil)
	cfg.ServerName = "bench.example"
	var conns []net.Conn
	failed := 0
	for range *n {
		c, err := idleOne(*addr, *useTLS, cfg)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
	}
	fmt.Printf("open=%d failed=%d\n", len(conns), failed)
	if *ready != "" {
		os.WriteFile(*ready, []byte("ready\n"), 0o644)
	}
	time.Sleep(*hold)
	for _, c := range conns {
		c.Close()
	}
}

// idleOne opens one connection and completes one keep-alive request on it.
func idleOne(addr string, useTLS bool, cfg *tls.Config) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if useTLS {
		c = tls.Client(c, cfg)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		c.Close()
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
