package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/albatross-lb/albatross/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/node"
)

// BenchmarkObserve is the whole cost metrics add to a request: one Observe of
// a finished entry. BenchmarkObserveParallel does the same from every core at
// once on one load balancer, where the counters' cache lines are contended.
func BenchmarkObserve(b *testing.B) {
	lb, e := observeSetup()
	b.ReportAllocs()
	for b.Loop() {
		lb.Observe(e)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	lb, e0 := observeSetup()
	var conns atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine serves a client connection of its own, as the
		// proxy's cores do.
		e := *e0
		e.Client = netip.AddrPortFrom(e.Client.Addr(), e.Client.Port()+uint16(conns.Add(1)))
		for pb.Next() {
			lb.Observe(&e)
		}
	})
}

func observeSetup() (*metrics.LoadBalancer, *accesslog.Entry) {
	r := metrics.NewRegistry()
	target := netip.MustParseAddrPort("127.0.0.1:9001")
	const arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/app/fedcba9876543210"
	lb := r.Bind("app/web/0123456789abcdef", []metrics.GroupSpec{{
		ID: "targetgroup/app/fedcba9876543210", ARN: arn,
		Targets: []metrics.TargetSpec{{Addr: netip.MustParseAddrPort("127.0.0.1:9000")}, {Addr: target}},
	}})
	e := accesslog.Entry{
		ELB: "app/web/0123456789abcdef", Client: netip.MustParseAddrPort("127.0.0.1:50000"), Target: target,
		TargetProcessingTime: 3 * time.Millisecond, ELBStatusCode: 200, TargetStatusCode: 200,
		ReceivedBytes: 120, SentBytes: 400, TargetGroupARN: arn, ActionsExecuted: "forward",
		Attempts: []accesslog.Attempt{{Target: target, Status: 200}},
	}
	return lb, &e
}

// BenchmarkProxiedRequest measures one keep-alive request through a node, with
// and without metrics, access log on in both. The client and the target are
// minimal raw-socket loops so that the load balancer's work dominates; cpu-ns/op
// is the CPU time of the whole process (client, load balancer, target) per
// request, from getrusage.
func BenchmarkProxiedRequest(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", withMetrics), func(b *testing.B) {
			benchProxied(b, withMetrics)
		})
	}
}

const benchResponse = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nhello, world\n"

func benchProxied(b *testing.B, withMetrics bool) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go serveFixed(c)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	tp := target.Addr().(*net.TCPAddr).Port
	yaml := fmt.Sprintf(`load_balancers:
  - name: bench
    access_log: {path: %s}
    listeners:
      - {port: %d, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: app}]}
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    targets: [{id: 127.0.0.1, port: %d}]
`, filepath.Join(dir, "access.log"), ln.Addr().(*net.TCPAddr).Port, tp)
	cfg, err := config.Parse("bench.yaml", []byte(yaml))
	if err != nil {
		b.Fatal(err)
	}
	opts := node.Options{
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		DataDir:   filepath.Join(dir, "data"),
		Listeners: map[netip.AddrPort]net.Listener{ln.Addr().(*net.TCPAddr).AddrPort(): ln},
	}
	if withMetrics {
		opts.Metrics = metrics.NewRegistry()
	}
	n, err := node.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if err := n.Apply(cfg); err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReader(c)
	resp := make([]byte, 0, 512)
	roundTrip := func() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readFixed(br, &resp); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm the pools and buffers
		roundTrip()
	}
	b.ReportAllocs()
	before := testutil.ProcessCPU(b)
	b.ResetTimer()
	for b.Loop() {
		roundTrip()
	}
	b.StopTimer()
	b.ReportMetric(float64((testutil.ProcessCPU(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if withMetrics {
		tot := opts.Metrics.Totals()
		if len(tot) != 1 || tot[0].LoggedRequests < uint64(b.N) {
			b.Fatalf("metrics counted %v, want at least %d requests", tot, b.N)
		}
	}
}

// serveFixed answers every request head on c with benchResponse.
func serveFixed(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := io.WriteString(c, benchResponse); err != nil {
			return
		}
	}
}

// readFixed reads one response: a head, then its Content-Length body.
func readFixed(br *bufio.Reader, buf *[]byte) error {
	length := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			fmt.Sscanf(string(bytes.TrimSpace(v)), "%d", &length)
		}
	}
	*buf = (*buf)[:length]
	_, err := io.ReadFull(br, *buf)
	return err
}
