// Command tlsbench measures HTTPS and HTTP/2 termination side by side:
// Albatross against HAProxy and nginx on this machine, in the same run, with
// the same ECDSA P-256 certificate, TLS 1.3 only, TLS_AES_128_GCM_SHA256 and
// X25519 for every proxy. It is the TLS companion of ../shared/bench/compare.py
// and starts the anchors the way compare.py does: each proxy on CPU 1 (HAProxy
// nbthread 1, nginx one worker, Albatross GOMAXPROCS=1), the load generator and
// the backend on CPU 0, and the figure to read first is the proxy's own CPU time
// per request, read from /proc.
//
// Scenarios (-scenarios):
//
//	tls-ka      HTTPS keep-alive, HTTP/1.1, 64 B responses, 64 connections (wrk over https)
//	tls-new     a new TLS connection per request, full handshake (this tool's client)
//	tls-resume  a new TLS connection per request, resuming the previous session (TLS 1.3 ticket)
//	h2          HTTP/2 over TLS, 8 connections with 100 concurrent streams each (h2load,
//	            runs of 9,000 requests a connection, below the GOAWAY at 10,000)
//	h2-rate     the same with the offered load fixed (-h2-rate, requests per second):
//	            every proxy is measured at one load instead of each at the rate it reaches
//	            (-h2-streams sets the streams per connection of both, 100 by default)
//	tls-idle    5,000 idle kept-alive TLS client connections: resident memory per connection
//	idle        the same over plain HTTP (the proxies' plain listeners)
//
// Usage:
//
//	go build -o /tmp/albatross ./cmd/albatross
//	go run ./tools/tlsbench -albatross /tmp/albatross -rounds 3 -duration 8s
//
// An A/B of two builds in one run: -albatross-b OTHER -proxies albatross,albatross-b.
// Two cores: -proxies albatross,albatross-2core (GOMAXPROCS=2 on CPUs 0-1), and
// haproxy,haproxy-2core for the same comparison of an anchor (nbthread 2).
//
// The subcommands backend, handshakes and idle are the pieces it runs on CPU 0.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backend":
			backendMain(os.Args[2:])
			return
		case "handshakes":
			handshakesMain(os.Args[2:])
			return
		case "idle":
			idleMain(os.Args[2:])
			return
		}
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tlsbench:", err)
		os.Exit(1)
	}
}
