// Package proxy is the per-connection loop of an ALB listener: read a request head,
// check it, route it, forward it to a target, stream the response back, time out
// as ALB does, and finish the request's access log entry. The steps of one request
// are listed, in order, in (*conn).serveRequest.
package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/h2"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/splice"
)

// Proxy serves client connections for any number of listeners. It holds no
// configuration of its own: each connection reads its listener's current compiled
// form through an atomic pointer at the start of every request.
type Proxy struct {
	log *slog.Logger

	// bufs holds *[]byte buffers of copyBufSize for streaming large bodies.
	bufs sync.Pool
	// works holds the per-connection request scratch space of connections
	// that are not serving a request.
	works sync.Pool
	// streams holds the state of finished HTTP/2 requests (*h2Stream).
	streams sync.Pool
	// h2Workers runs the HTTP/2 requests of every connection.
	h2Workers *h2.Workers
	// pipes are the kernel pipes that large bodies move through (splice);
	// spliced counts the body bytes that did.
	pipes   *splice.Pool
	spliced atomic.Int64
	// parker holds idle connections without a goroutine; nil where the
	// platform has no poller for it.
	parker *parker

	shutdown atomic.Bool
	mu       sync.Mutex // guards conns; taken per connection, never per request
	conns    map[*conn]struct{}
	wg       sync.WaitGroup
}

// maxIdlePipes is how many splice pipes the proxy keeps open between bodies
// (two descriptors each); bodies moving at once beyond that open their own.
const maxIdlePipes = 64

// Options configures a Proxy.
type Options struct {
	// Logger receives the proxy's own diagnostics (not access log lines).
	Logger *slog.Logger
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Proxy{log: opts.Logger, conns: make(map[*conn]struct{}), pipes: splice.NewPool(maxIdlePipes), h2Workers: h2.NewWorkers()}
	p.parker = newParker(p)
	p.bufs.New = func() any {
		b := make([]byte, copyBufSize)
		return &b
	}
	return p
}

// ServeConn serves one accepted client connection until the client or the
// listener's timeouts end it, then closes it. ln is read at every request, so a
// configuration change applies from the connection's next request on. ServeConn
// returns at once, closing nc, when the proxy is shutting down. It may also
// return while the connection is still open and idle: it then waits, parked,
// for its next request, and a new goroutine serves that.
func (p *Proxy) ServeConn(nc net.Conn, ln *atomic.Pointer[snapshot.Listener]) {
	c := newConn(p, nc, ln)
	p.mu.Lock()
	if p.shutdown.Load() {
		p.mu.Unlock()
		c.nc.Close()
		p.putWork(c.work)
		if l := ln.Load(); l != nil {
			l.LB.Metrics.ConnRejected()
		}
		return
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	c.lbMetrics = ln.Load().LB.Metrics
	c.lbMetrics.ConnOpened()
	if l := ln.Load(); l.TLS != nil {
		c.serveTLS(l)
		return
	}
	c.serve()
}

// forget removes a closed connection from the proxy's set.
func (p *Proxy) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.wg.Done()
}

// getWork returns request scratch space for a connection becoming active.
func (p *Proxy) getWork() *work {
	if w, ok := p.works.Get().(*work); ok {
		return w
	}
	return &work{buf: make([]byte, initialBufSize)}
}

// putWork takes back the scratch space of a connection that parks or closes.
// Its buffers must hold nothing the connection still needs.
func (p *Proxy) putWork(w *work) {
	if w.copyBuf != nil {
		p.bufs.Put(w.copyBuf)
		w.copyBuf = nil
	}
	if len(w.buf) != initialBufSize {
		w.buf = make([]byte, initialBufSize)
	}
	w.r, w.w = 0, 0
	w.reply, w.replyLB, w.raw, w.sock, w.upgrade = nil, nil, nil, nil, false
	w.replyOp.AfterSend = nil // bound to the connection that held w
	p.works.Put(w)
}

// Shutdown stops the proxy gracefully: idle client connections are closed at
// once, connections with a request in flight finish that request (answered with
// Connection: close) and then close. When ctx ends first, the remaining
// connections are closed and ctx's error is returned.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.shutdown.Store(true)
	// No connection parks once shutdown is set; those already parked close.
	p.retireWhere(func(*conn) bool { return true })
	defer p.parker.stop()
	defer p.pipes.Close()
	defer p.h2Workers.Close()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for c := range p.conns {
			if c.nc != nil { // a parked one is closed by its parker
				c.nc.Close()
			}
		}
		p.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// addrPortOf returns the IP and port of a TCP address, unmapping IPv4-in-IPv6.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// aLongTimeAgo is a deadline in the past, used to interrupt a blocked read.
var aLongTimeAgo = time.Unix(1, 0)
