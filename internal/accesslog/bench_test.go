package accesslog

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
)

func BenchmarkAppendLine(b *testing.B) {
	e := spec200Entry()
	buf := AppendLine(nil, &e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &e)
	}
}

func BenchmarkParseLine(b *testing.B) {
	for _, bm := range []struct{ name, line string }{
		{"ipv4", spec200},
		{"ipv6", spec504},
	} {
		b.Run(bm.name, func(b *testing.B) {
			line := []byte(bm.line + "\n")
			var e Entry
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ParseLine(line, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriterLog measures Log from many goroutines into a file; lines the
// disk cannot take are dropped, as in production, and reported.
func BenchmarkWriterLog(b *testing.B) {
	w, err := Open(Options{Path: filepath.Join(b.TempDir(), "access.log"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := spec200Entry()
		for pb.Next() {
			w.Log(&e)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
}
