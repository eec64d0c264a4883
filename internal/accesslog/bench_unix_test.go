//go:build unix

package accesslog

import (
	"context"
	"github.com/albatross-lb/albatross/internal/testutil"
	"log/slog"
	"path/filepath"
	"testing"
)

// BenchmarkWriterCPU is the whole process CPU time per line (logging
// goroutine and writer goroutine, user and system) for each destination:
// a plain file (Path), ALB's gzip layout (Directory) and the same as the S3
// spool writes it (Directory with SyncDirectory). Its cpu-ns/line is the
// cost a request pays for its log line, wherever it goes. The queue is
// sized so that no line is dropped.
func BenchmarkWriterCPU(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts func(dir string) Options
	}{
		{"path", func(dir string) Options { return Options{Path: filepath.Join(dir, "access.log")} }},
		{"directory", func(dir string) Options {
			return Options{Directory: dir, AccountID: "123456789012", Region: "us-east-1", LoadBalancerID: "app/bench/0123456789abcdef", NodeIP: "10.0.0.7"}
		}},
		{"spool", func(dir string) Options {
			return Options{Directory: dir, AccountID: "123456789012", Region: "us-east-1", LoadBalancerID: "app/bench/0123456789abcdef", NodeIP: "10.0.0.7", SyncDirectory: true}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := tc.opts(b.TempDir())
			o.Logger = slog.New(slog.DiscardHandler)
			o.Buffer = 1 << 20
			w, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			e := spec200Entry()
			before := testutil.ProcessCPU(b)
			for b.Loop() {
				w.Log(&e)
			}
			if err := w.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(testutil.ProcessCPU(b)-before)/float64(b.N), "cpu-ns/line")
			if d := w.Dropped(); d != 0 {
				b.Fatalf("%d lines dropped: the CPU figure would be too low", d)
			}
		})
	}
}
