package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"github.com/albatross-lb/albatross/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"golang.org/x/net/http2"
)

// loadGenEnv, when set, makes the test binary a load generator (see
// runLoadGen) instead of running tests.
const loadGenEnv = "ALBATROSS_PROXY_LOADGEN"

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) != "" {
		if err := runLoadGen(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "load generator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// BenchmarkProxyParallel drives the proxy from many keep-alive client
// connections at once, so that with -cpu 2 both cores serve requests and any
// shared state written per request (counters, locks) is contended. The
// clients and the target run in a child process, so cpu-µs/op is the proxy's
// own CPU time per request (getrusage of this process, as compare.py measures a
// proxy), and allocs/op the proxy's allocations. The listener has what a
// compiled snapshot gives a request to touch: a health status per target,
// metrics bound, least outstanding requests.
func BenchmarkProxyParallel(b *testing.B) {
	for _, conns := range []int{64} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) {
			lg := startLoadGen(b)
			addr := serve(b, quietProxy(), benchListener(b, lg.target))
			lg.command(b, "connect %s %d", addr, conns)
			lg.command(b, "run %d", 20*conns) // warm the pools
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU(b)
			b.ResetTimer()
			lg.command(b, "run %d", b.N)
			b.StopTimer()
			b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// benchListener is testListener forwarding to target with least outstanding
// requests, a health status for the target and metrics bound, as a compiled
// snapshot has them.
func benchListener(tb testing.TB, target string) *atomic.Pointer[snapshot.Listener] {
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	ln := testListener(attrs, discardLog{}, target)
	l := ln.Load()
	tg := l.DefaultAction.TargetGroup
	tg.Policy = &balance.LeastOutstanding[*snapshot.Target]{}
	hr := health.NewRegistry(health.Options{Disabled: true, Logger: slog.New(slog.DiscardHandler)})
	tb.Cleanup(hr.Close)
	tg.Health = hr.Group(tg.Name)
	gs := metrics.GroupSpec{ID: "targetgroup/tg/0123456789abcdef", ARN: tg.ARN}
	var specs []health.GroupSpec
	for _, t := range tg.Targets {
		t.Health = tg.Health.Target(t.Addr)
		gs.Targets = append(gs.Targets, metrics.TargetSpec{Addr: t.Addr, Pool: t.Pool})
		specs = append(specs, health.GroupSpec{Name: tg.Name, InUse: true, Targets: []*health.Status{t.Health}})
	}
	hr.Apply(specs)
	l.LB.Metrics = metrics.NewRegistry().Bind(l.LB.ResourceID, []metrics.GroupSpec{gs})
	return ln
}

// loadGen is a child process running a fixed target and keep-alive clients.
type loadGen struct {
	target string
	in     io.Writer
	out    *bufio.Reader
}

// startLoadGen starts the load generator; it ends with the benchmark.
func startLoadGen(tb testing.TB) *loadGen {
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), loadGenEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		in.Close() // the child exits at the end of its input
		cmd.Wait()
	})
	lg := &loadGen{in: in, out: bufio.NewReader(out)}
	line, err := lg.out.ReadString('\n')
	if err != nil {
		tb.Fatalf("load generator: %v", err)
	}
	lg.target = strings.TrimSpace(line)
	return lg
}

// command sends one command and waits for its "ok".
func (lg *loadGen) command(tb testing.TB, format string, args ...any) {
	fmt.Fprintf(lg.in, format+"\n", args...)
	line, err := lg.out.ReadString('\n')
	if err != nil || line != "ok\n" {
		tb.Fatalf("load generator: %q: %q, %v", fmt.Sprintf(format, args...), line, err)
	}
}

// runLoadGen serves a fixed 64-byte response on a loopback target, writes the
// target's address, then obeys commands, one per line, answering "ok" to each:
// "connect ADDR N" opens N keep-alive client connections to ADDR,
// "connecttls ADDR N" N kept-alive TLS 1.3 connections (HTTP/1.1),
// "connecth2 ADDR N M" N HTTP/2 connections carrying M streams at once each,
// and "run N" sends N requests spread over them (one at a time on each
// connection or stream) and reads the responses.
func runLoadGen(in io.Reader, out io.Writer) error {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer tl.Close()
	go serveFixedTarget(tl)
	fmt.Fprintln(out, tl.Addr().String())
	var conns []net.Conn
	var h2conns []*http2.ClientConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "connect":
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return err
			}
			for range n {
				c, err := net.Dial("tcp", f[1])
				if err != nil {
					return err
				}
				conns = append(conns, c)
			}
		case len(f) == 3 && f[0] == "connecttls":
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return err
			}
			for range n {
				c, err := tls.Dial("tcp", f[1], loadGenTLS("http/1.1"))
				if err != nil {
					return err
				}
				conns = append(conns, c)
			}
		case len(f) == 4 && f[0] == "connecth2":
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return err
			}
			streams, err := strconv.Atoi(f[3])
			if err != nil {
				return err
			}
			for range n {
				c, err := tls.Dial("tcp", f[1], loadGenTLS("h2"))
				if err != nil {
					return err
				}
				conns = append(conns, c)
				cc, err := (&http2.Transport{}).NewClientConn(c)
				if err != nil {
					return err
				}
				for range streams {
					h2conns = append(h2conns, cc)
				}
			}
		case len(f) == 2 && f[0] == "run" && len(h2conns) > 0:
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return err
			}
			var left atomic.Int64
			left.Store(int64(n))
			var wg sync.WaitGroup
			errs := make(chan error, len(h2conns))
			for _, cc := range h2conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := exchangeH2(cc, &left); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				return err
			}
		case len(f) == 2 && f[0] == "run" && len(conns) > 0:
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return err
			}
			var left atomic.Int64
			left.Store(int64(n))
			var wg sync.WaitGroup
			errs := make(chan error, len(conns))
			for _, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := exchange(c, req, &left); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				return err
			}
		default:
			return fmt.Errorf("bad command %q", sc.Text())
		}
		fmt.Fprintln(out, "ok")
	}
	return sc.Err()
}

// loadGenTLS is the load generator's TLS client configuration, offering one
// application protocol.
func loadGenTLS(alpn string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: "bench.example", NextProtos: []string{alpn}, MinVersion: tls.VersionTLS13}
}

// exchangeH2 sends GET requests on an HTTP/2 connection, one after the
// other, while left stays positive, and reads each 64-byte response.
func exchangeH2(cc *http2.ClientConn, left *atomic.Int64) error {
	for left.Add(-1) >= 0 {
		req, err := http.NewRequest("GET", "https://bench.example/bench", nil)
		if err != nil {
			return err
		}
		resp, err := cc.RoundTrip(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != 64 {
			return fmt.Errorf("HTTP/2 response %d, %d bytes, %v", resp.StatusCode, n, err)
		}
	}
	return nil
}

// exchange sends req on c and reads a fixedTarget response, one after the
// other, while left stays positive.
func exchange(c net.Conn, req []byte, left *atomic.Int64) error {
	buf := make([]byte, 4096)
	for left.Add(-1) >= 0 {
		if _, err := c.Write(req); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n := 0
		for {
			m, err := c.Read(buf[n:])
			if err != nil {
				return err
			}
			n += m
			head := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if head >= 0 && n >= head+4+64 {
				break
			}
		}
	}
	return nil
}
