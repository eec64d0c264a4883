// Package upstream owns the connections from the load balancer to its targets: one
// pool of keep-alive connections per target, dialing with ALB's connect timeout,
// idle eviction, and the classification of connection errors into the status codes
// ALB answers with. Nothing above this package knows whether a connection is new
// or reused beyond the Reused flag it reports.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultConnectTimeout is ALB's fixed target connect timeout (spec §8.3): a TCP
// connection to a target not established within it is answered with 504.
const DefaultConnectTimeout = 10 * time.Second

// DefaultMaxIdle is how many idle connections a pool keeps per target. Enough for
// bursts at the benchmark's 64 concurrent clients; more are closed when returned.
const DefaultMaxIdle = 128

// readBufSize is the initial size of a target connection's read buffer; it grows
// up to the response head limit when a head does not fit.
const readBufSize = 4 << 10

// Conn is one connection to a target together with its read buffer. Buf[R:W] holds
// bytes read from the target and not yet consumed.
type Conn struct {
	net.Conn
	Buf  []byte
	R, W int
	// Reused is true when the connection already served a request before this one.
	Reused bool

	pool      *Pool
	idleSince time.Time
}

// Release returns the connection to its pool for reuse. Call it only after a
// complete response was read and the target did not ask to close.
func (c *Conn) Release() { c.pool.put(c) }

// Discard closes the connection; it is never reused.
func (c *Conn) Discard() {
	c.Conn.Close()
	c.pool.open.Add(-1)
}

// DialError is a failure to connect to a target. Timeout distinguishes the connect
// timeout (ALB: 504) from a refusal or unreachable network (ALB: 502).
type DialError struct {
	Addr    string
	Timeout bool
	Err     error
}

func (e *DialError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("connect to target %s: timed out: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("connect to target %s: %v", e.Addr, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Options configures a pool.
type Options struct {
	// ConnectTimeout bounds a TCP connect (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// MaxIdle bounds the idle connections kept (default DefaultMaxIdle).
	MaxIdle int
}

// Pool is the set of connections to one target. Safe for concurrent use; its lock
// is per target and held only to push or pop an idle connection.
type Pool struct {
	addr   string
	opts   Options
	dialer net.Dialer

	// idleTimeout is the load balancer's idle timeout in nanoseconds: an idle
	// connection older than this is closed rather than reused, as ALB closes
	// target connections idle for that long.
	idleTimeout atomic.Int64
	open        atomic.Int64

	mu     sync.Mutex
	idle   []*Conn // most recently used last
	closed bool

	// tls is set for HTTPS targets (tls.go); key is then the pool's key.
	tls *tls.Config
	key string
}

// NewPool returns an empty pool for the target at addr ("ip:port").
func NewPool(addr string, opts Options) *Pool {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = DefaultMaxIdle
	}
	p := &Pool{addr: addr, opts: opts}
	p.dialer.Timeout = opts.ConnectTimeout
	p.idleTimeout.Store(int64(60 * time.Second))
	return p
}

// Addr is the target's "ip:port".
func (p *Pool) Addr() string { return p.addr }

// SetIdleTimeout sets the idle timeout applied to pooled connections.
func (p *Pool) SetIdleTimeout(d time.Duration) { p.idleTimeout.Store(int64(d)) }

// IdleTimeout reports the idle timeout applied to pooled connections.
func (p *Pool) IdleTimeout() time.Duration { return time.Duration(p.idleTimeout.Load()) }

// Open reports how many connections to the target are open (idle or in use).
func (p *Pool) Open() int64 { return p.open.Load() }

// Idle reports how many connections wait in the pool.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Get returns a connection to the target: the most recently used idle one that
// has not outlived the idle timeout, or a new one. A dial failure is a *DialError.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	if c := p.popIdle(time.Now()); c != nil {
		c.Reused = true
		return c, nil
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		return nil, &DialError{Addr: p.addr, Timeout: timeout, Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if p.tls != nil {
		if nc, err = p.handshake(ctx, nc); err != nil {
			return nil, err
		}
	}
	p.open.Add(1)
	return &Conn{Conn: nc, Buf: make([]byte, readBufSize), pool: p}, nil
}

// popIdle takes the freshest idle connection, closing any that outlived the idle
// timeout on the way.
func (p *Pool) popIdle(now time.Time) *Conn {
	limit := time.Duration(p.idleTimeout.Load())
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if now.Sub(c.idleSince) < limit {
			p.mu.Unlock()
			return c
		}
		p.mu.Unlock()
		c.Discard()
		p.mu.Lock()
	}
	p.mu.Unlock()
	return nil
}

func (p *Pool) put(c *Conn) {
	if c.R != c.W {
		// The target sent bytes beyond the response: the connection is out of
		// step and must not carry another request.
		c.Discard()
		return
	}
	c.R, c.W = 0, 0
	c.idleSince = time.Now()
	c.Conn.SetDeadline(time.Time{})
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.opts.MaxIdle {
		p.mu.Unlock()
		c.Discard()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// EvictIdle closes idle connections that have outlived the idle timeout. The
// pools' owner calls it periodically so that idle sockets do not linger.
func (p *Pool) EvictIdle(now time.Time) {
	limit := time.Duration(p.idleTimeout.Load())
	p.mu.Lock()
	var stale []*Conn
	keep := p.idle[:0]
	for _, c := range p.idle {
		if now.Sub(c.idleSince) >= limit {
			stale = append(stale, c)
		} else {
			keep = append(keep, c)
		}
	}
	for i := len(keep); i < len(p.idle); i++ {
		p.idle[i] = nil
	}
	p.idle = keep
	p.mu.Unlock()
	for _, c := range stale {
		c.Discard()
	}
}

// Close closes the idle connections and makes the pool keep no more; connections
// in use finish their request and are closed when released.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, c := range idle {
		c.Discard()
	}
}
