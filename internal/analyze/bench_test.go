//go:build unix

package analyze

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"github.com/albatross-lb/albatross/internal/testutil"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// benchMB is the size of the generated log the benchmarks read:
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/analyze            # 1 GB
//	go test -run '^$' -bench Run -cpu 1,2 -analyze.mb 256 ./internal/analyze
var benchMB = flag.Int("analyze.mb", 1024, "size in MB of the log the benchmarks generate")

// writeBenchLog writes about mb megabytes of ALB log lines with a realistic
// mix (mostly 200s over many targets and ids, some of every error) and returns
// its path and size.
func writeBenchLog(b testing.TB, mb int) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.log")
	if out := os.Getenv("ALBATROSS_BENCH_LOG"); out != "" {
		path = out
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := &generator{rng: rand.New(rand.NewPCG(42, 42))}
	var line []byte
	var written int64
	want := int64(mb) * 1_000_000
	for i := 0; written < want; i++ {
		created := genStart.Add(time.Duration(i) * 5 * time.Millisecond)
		target := fmt.Sprintf("10.0.%d.%d:8080", g.rng.IntN(4), 1+g.rng.IntN(50))
		url := fmt.Sprintf("/api/v1/users/%d/orders?page=%d", g.rng.IntN(1_000_000), g.rng.IntN(10))
		var e accesslog.Entry
		switch r := g.rng.IntN(1000); {
		case r < 5:
			e = g.errorLine(created, target, url, 460, int64(29_000+g.rng.IntN(2000)))
		case r < 8:
			e = g.errorLine(created, target, url, 502, int64(g.rng.IntN(5)))
		case r < 10:
			e = g.errorLine(created, target, url, 504, 60_000)
		case r < 11:
			e = g.errorLine(created, "-", url, 503, 0)
		default:
			e = g.base(created, target, "GET", url, int64(g.rng.IntN(3)), int64(1+g.rng.IntN(400)), 0, 200, 200)
		}
		line = accesslog.AppendLine(line[:0], &e)
		n, err := w.Write(line)
		if err != nil {
			b.Fatal(err)
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, written
}

// TestWriteBenchLog writes the benchmark's log to $ALBATROSS_BENCH_LOG, for
// measurements outside go test (the binary's memory, GoAccess by hand):
//
//	ALBATROSS_BENCH_LOG=/tmp/alb.log go test -run WriteBenchLog -analyze.mb 1024 ./internal/analyze
func TestWriteBenchLog(t *testing.T) {
	if os.Getenv("ALBATROSS_BENCH_LOG") == "" {
		t.Skip("set ALBATROSS_BENCH_LOG to a file name to write the benchmark log")
	}
	path, size := writeBenchLog(t, *benchMB)
	t.Logf("wrote %d bytes to %s", size, path)
}

// BenchmarkRun measures `albatross logs summary` on a generated log, with
// as many workers as -cpu allows. MB/s over GOMAXPROCS is the per-core rate.
func BenchmarkRun(b *testing.B) {
	path, size := writeBenchLog(b, *benchMB)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU(b)
	for b.Loop() {
		rep, err := Run(context.Background(), []string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.MalformedLines != 0 || rep.Requests == 0 {
			b.Fatalf("%d requests, %d malformed", rep.Requests, rep.MalformedLines)
		}
	}
	// On a shared machine wall-clock MB/s depends on the neighbours; bytes per
	// CPU-second of this process is the per-core rate.
	b.ReportMetric(float64(size)*float64(b.N)/(testutil.ProcessCPU(b)-cpu0).Seconds()/1e6, "MB/cpu-s")
}

// BenchmarkGoAccess runs GoAccess's AWS ALB mode on the same kind of log, for
// the side-by-side figure.
func BenchmarkGoAccess(b *testing.B) {
	if _, err := exec.LookPath("goaccess"); err != nil {
		b.Skip("goaccess is not installed")
	}
	path, size := writeBenchLog(b, *benchMB)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "goaccess.json")
		if msg, err := exec.Command("goaccess", path, "--log-format=AWSALB", "--no-global-config", "-o", out).CombinedOutput(); err != nil {
			b.Fatalf("goaccess: %v\n%s", err, msg)
		}
	}
}
