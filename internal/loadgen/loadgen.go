// Package loadgen sends HTTP/1.1 requests at a fixed rate over keep-alive
// connections and reports the latency of each, measured from when the request
// was due rather than when it was sent, so that a stalled server counts for
// every request that waited behind it (no coordinated omission). wrk, which
// compare.py uses, sends as fast as answers come back; this gives the latency
// at a chosen, moderate load instead.
package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Options says what load to send.
type Options struct {
	// Addr is the host:port to connect to; Path the request target.
	Addr, Path string
	// Rate is requests per second over all connections; Conns how many
	// keep-alive connections carry them.
	Rate  float64
	Conns int
	// Duration is how long to send for.
	Duration time.Duration
}

// Result is what a run measured.
type Result struct {
	// Sent counts the requests answered or failed (those the run's end cut
	// off are left out); a failed request ends its connection.
	Sent, Failed int
	// Elapsed is the run's length.
	Elapsed time.Duration
	// Latencies holds each answered request's latency, sorted.
	Latencies []time.Duration
}

// Percentile returns the latency below which fraction q (0 to 1) of the
// answered requests fall, or 0 when none were answered.
func (r *Result) Percentile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// Run sends the load described by o until its duration passes or ctx ends.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Rate <= 0 || o.Conns <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("loadgen: rate, connections and duration must be positive (got %v, %d, %v)", o.Rate, o.Conns, o.Duration)
	}
	if o.Path == "" {
		o.Path = "/"
	}
	req := []byte("GET " + o.Path + " HTTP/1.1\r\nHost: " + o.Addr + "\r\n\r\n")
	// Connection k sends requests k, k+Conns, ...: each is due at
	// start + i/Rate.
	interval := time.Duration(float64(time.Second) / o.Rate)
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now().Add(10 * time.Millisecond)
	res := &Result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := range o.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, sent, failed := runConn(ctx, o.Addr, req, start.Add(time.Duration(k)*interval), interval*time.Duration(o.Conns))
			mu.Lock()
			res.Latencies = append(res.Latencies, lat...)
			res.Sent += sent
			res.Failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res, nil
}

// runConn sends requests on one connection, the first due at first and each
// next one step later, and returns the latencies of those answered.
func runConn(ctx context.Context, addr string, req []byte, first time.Time, step time.Duration) (lat []time.Duration, sent, failed int) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, 0, 1
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	br := bufio.NewReader(c)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for due := first; ; due = due.Add(step) {
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return lat, sent, failed
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return lat, sent, failed
		}
		_, err := c.Write(req)
		if err == nil {
			var resp *http.Response
			if resp, err = http.ReadResponse(br, nil); err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return lat, sent, failed // cut off by the end of the run
			}
			return lat, sent + 1, failed + 1
		}
		sent++
		lat = append(lat, time.Since(due))
	}
}
