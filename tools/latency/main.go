// Command latency measures an HTTP server's latency at a fixed request rate
// (package loadgen): the p99 at moderate load that docs/performance.md
// compares between Albatross and HAProxy.
//
//	go run ./tools/latency -addr 127.0.0.1:9100 -rate 5000 -conns 64 -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/albatross-lb/albatross/internal/loadgen"
)

func main() {
	var o loadgen.Options
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:9100", "host:port to send requests to")
	flag.StringVar(&o.Path, "path", "/", "request target")
	flag.Float64Var(&o.Rate, "rate", 5000, "requests per second, over all connections")
	flag.IntVar(&o.Conns, "conns", 64, "keep-alive connections")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send")
	flag.Parse()
	r, err := loadgen.Run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("rate=%.0f/s sent=%d failed=%d p50=%.3fms p90=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms\n",
		float64(len(r.Latencies))/r.Elapsed.Seconds(), r.Sent, r.Failed,
		ms(r.Percentile(0.50)), ms(r.Percentile(0.90)), ms(r.Percentile(0.99)), ms(r.Percentile(0.999)), ms(r.Percentile(1)))
	if r.Failed > 0 {
		os.Exit(1)
	}
}
