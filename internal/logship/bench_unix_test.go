//go:build unix

package logship

import (
	"context"
	"github.com/albatross-lb/albatross/internal/testutil"
	"os"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil/s3test"
)

// BenchmarkShip uploads spool files of 100,000 access log lines each to a
// real S3 server (Versity's gateway on loopback) and reports lines/s and
// the shipper's own CPU per line (this process's user and system time; the
// server's is not counted). One iteration is one file.
func BenchmarkShip(b *testing.B) {
	srv := s3test.Start(b)
	srv.Bucket(b, "logs")
	sh := shipper(b, srv, Options{})
	const lines = 100_000
	var cpu, bytes int64
	var wall time.Duration
	for b.Loop() {
		b.StopTimer()
		writeLog(b, sh.Dir("logs", ""), lines)
		files, err := sh.scan()
		if err != nil || len(files) != 1 {
			b.Fatalf("spool: %d files, %v", len(files), err)
		}
		bytes += files[0].size
		before, start := testutil.ProcessCPU(b), time.Now()
		b.StartTimer()
		if err := sh.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += int64(testutil.ProcessCPU(b) - before)
		wall += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(lines*b.N)/wall.Seconds(), "lines/s")
	b.ReportMetric(float64(cpu)/float64(lines*b.N), "cpu-ns/line")
	b.ReportMetric(float64(bytes)/float64(lines*b.N), "gzip-bytes/line")
	if files, _ := sh.scan(); len(files) != 0 {
		b.Fatalf("%d files left in the spool", len(files))
	}
	if _, err := os.Stat(sh.Spool()); err != nil {
		b.Fatal(err)
	}
}
