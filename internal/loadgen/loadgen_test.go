package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	r := &Result{}
	if got := r.Percentile(0.99); got != 0 {
		t.Fatalf("no latencies: %v, want 0", got)
	}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := r.Percentile(c.q); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestRunRejectsEmptyLoad(t *testing.T) {
	if _, err := Run(context.Background(), Options{Addr: "127.0.0.1:1", Rate: 0, Conns: 1, Duration: time.Second}); err == nil {
		t.Fatal("a rate of 0 was accepted")
	}
}

// TestRunMeasuresFromWhenRequestsWereDue: every request reaches the server
// on keep-alive connections, and each latency includes the server's delay.
func TestRunMeasuresFromWhenRequestsWereDue(t *testing.T) {
	const delay = 5 * time.Millisecond
	var served, conns atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			time.Sleep(delay) // a server that takes this long
			io.WriteString(w, "ok")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	r, err := Run(context.Background(), Options{Addr: l.Addr().String(), Rate: 200, Conns: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 0 || r.Sent == 0 || len(r.Latencies) != r.Sent {
		t.Fatalf("sent %d, failed %d, answered %d: want all answered", r.Sent, r.Failed, len(r.Latencies))
	}
	if n := served.Load(); n < int64(r.Sent) || n > int64(r.Sent)+4 {
		t.Fatalf("sent %d, server saw %d: want those plus at most one cut off per connection", r.Sent, n)
	}
	if conns.Load() != 4 {
		t.Fatalf("%d connections, want 4 kept alive", conns.Load())
	}
	if !slices.IsSorted(r.Latencies) || r.Percentile(0) < delay {
		t.Fatalf("latencies not sorted or shorter than the server's delay: min %v", r.Percentile(0))
	}
}
