package health

import (
	"bytes"
	"fmt"
	"github.com/albatross-lb/albatross/internal/testutil"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchTarget is a minimal HTTP server on its own port that answers every
// request with 200 and closes, recording when each check arrived.
type benchTarget struct {
	ln     net.Listener
	addr   netip.AddrPort
	checks atomic.Int64
	last   atomic.Int64 // unix ns of the latest check
	maxGap atomic.Int64 // longest time between two checks, ns
}

func (bt *benchTarget) serve(wg *sync.WaitGroup) {
	defer wg.Done()
	buf := make([]byte, 1024)
	for {
		c, err := bt.ln.Accept()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if prev := bt.last.Swap(now); prev != 0 && now-prev > bt.maxGap.Load() {
			bt.maxGap.Store(now - prev)
		}
		bt.checks.Add(1)
		// One check at a time per target: read the head, answer, close.
		var got []byte
		for !bytes.Contains(got, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		c.Close()
	}
}

// BenchmarkCheck1000Targets checks 1,000 targets, each on its own port, every
// 5 s (ALB's shortest interval: 200 checks a second), and the same compressed
// tenfold (2,000 checks a second). One iteration is one interval. It reports
// whether every target was checked within each interval (max-gap-ms close to
// the interval, unchecked 0, all healthy), and the process CPU time (the
// checker and the 1,000 target servers together) per check and in cores.
//
//	go test -run - -bench Check1000 -benchtime 4x ./internal/health/
func BenchmarkCheck1000Targets(b *testing.B) {
	for _, unit := range []time.Duration{time.Second, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("interval=%v", 5*unit), func(b *testing.B) { benchCheckTargets(b, 1000, unit) })
	}
}

func benchCheckTargets(b *testing.B, n int, unit time.Duration) {
	interval := 5 * unit // fastCheck: interval 5 "s", timeout 4 "s"
	var wg sync.WaitGroup
	targets := make([]*benchTarget, n)
	for i := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Skipf("cannot open %d listeners: %v", n, err)
		}
		targets[i] = &benchTarget{ln: ln, addr: addrOf(b, ln.Addr().String())}
		wg.Add(1)
		go targets[i].serve(&wg)
	}
	defer func() {
		for _, t := range targets {
			t.ln.Close()
		}
		wg.Wait()
	}()
	r := NewRegistry(Options{Second: unit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer r.Close()
	g := r.Group("bench")
	sp := GroupSpec{Name: "bench", LoadBalancer: "web", InUse: true, HealthCheck: fastCheck(), DeregistrationDelay: time.Second}
	for _, t := range targets {
		sp.Targets = append(sp.Targets, g.Target(t.addr))
	}
	r.Apply([]GroupSpec{sp})

	// Warm up: one full interval plus the first-check window, so every
	// target is on its grid.
	time.Sleep(2 * interval)
	for _, t := range targets {
		t.maxGap.Store(0)
	}
	var before int64
	for _, t := range targets {
		before += t.checks.Load()
	}
	cpu0, wall0 := testutil.ProcessCPU(b), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(interval)
	}
	b.StopTimer()
	cpu, wall := testutil.ProcessCPU(b)-cpu0, time.Since(wall0)
	var after, maxGap int64
	unchecked := 0
	for _, t := range targets {
		c := t.checks.Load()
		after += c
		if g := t.maxGap.Load(); g > maxGap {
			maxGap = g
		}
		if c == 0 {
			unchecked++
		}
	}
	checks := after - before
	healthy := r.Counts("bench").Healthy
	b.ReportMetric(float64(checks)/wall.Seconds(), "checks/s")
	b.ReportMetric(float64(maxGap)/1e6, "max-gap-ms")
	b.ReportMetric(float64(unchecked), "unchecked")
	b.ReportMetric(float64(healthy), "healthy")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-cores")
	if checks > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(checks), "cpu-µs/check")
	}
	b.ReportMetric(0, "ns/op")
	if testing.Verbose() {
		fmt.Printf("%d checks in %v, interval %v\n", checks, wall, interval)
	}
}

// BenchmarkBeginEnd is the request path's cost of counting a request in flight
// on one target from every core at once: two atomic additions on one counter
// (the connection is tagged for the end of a deregistration delay in the
// upstream pool, not here).
func BenchmarkBeginEnd(b *testing.B) {
	r := NewRegistry(Options{Disabled: true})
	defer r.Close()
	st := r.Group("bench").Target(netip.MustParseAddrPort("127.0.0.1:80"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st.Begin()
			st.End()
		}
	})
}
