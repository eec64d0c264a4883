// Package upstream owns the connections from the load balancer to its targets: one
// pool of keep-alive connections per target, dialing with ALB's connect timeout,
// and the keep-alive problem as a whole (ARCHITECTURE.md, principle 4). A pool
// never hands out a connection the target is about to close: it evicts idle
// connections before the target's keep-alive timeout (configured, announced in
// Keep-Alive: timeout=, or learned from the target's past closes; see
// keepalive.go), checks for a FIN or RST before each reuse, and holds requests
// that cannot be replayed to a stricter limit. When a reused connection fails
// anyway, the *AttemptError its Read or Write returns carries the facts that
// Retryable needs to decide whether the request may be sent again.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultConnectTimeout is ALB's fixed target connect timeout (spec §8.3): a TCP
// connection to a target not established within it is answered with 504.
const DefaultConnectTimeout = 10 * time.Second

// DefaultMaxIdle is how many idle connections a pool keeps per target: as many
// as it may open (DefaultMaxConns), so that a steady load of that many requests
// at once, such as a few HTTP/2 clients with 100 streams each, reuses its
// connections instead of closing and redialling the ones above a smaller bound
// with every wave of responses. Idle connections the load no longer needs are
// closed by the sweep, as any others.
const DefaultMaxIdle = DefaultMaxConns

// DefaultMaxConns is how many connections a pool opens to one target at most,
// idle and busy together. ALB sets no such limit, but an unbounded number lets a
// burst exhaust the target's (and the node's) file descriptors; a request that
// finds the pool at its limit waits up to the connect timeout for a connection.
const DefaultMaxConns = 1024

// readBufSize is the initial size of a target connection's read buffer; it grows
// up to the response head limit when a head does not fit.
const readBufSize = 4 << 10

// ErrPoolFull is the cause of the *DialError returned when every allowed
// connection to a target stayed busy for the connect timeout.
var ErrPoolFull = errors.New("every connection to the target is busy (pool at its limit)")

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
	// MaxConns bounds the connections open at once (default DefaultMaxConns).
	MaxConns int
}

// Stats are a pool's counters since it was created.
type Stats struct {
	// Dials is the number of connections opened.
	Dials int64
	// Reuses is the number of requests that rode a pooled connection.
	Reuses int64
	// ClosedByTarget is the number of idle connections found closed (FIN or RST)
	// before use, and never used.
	ClosedByTarget int64
	// Evicted is the number of idle connections the pool closed because they
	// had been idle too long to be used.
	Evicted int64
	// FailedReused is the number of requests on a reused connection that the
	// target closed before any response byte (the race a pool tries to avoid).
	FailedReused int64
	// Retries is the number of requests sent again on a new connection.
	Retries int64
}

// counters are a pool's Stats. Reuses, the one counted per request, is kept on
// each connection (Conn.reuses) while it is open, so that requests on
// different cores do not write one shared counter, and added here when the
// connection is discarded.
type counters struct {
	dials, reuses, closedByTarget, evicted, failedReused, retries atomic.Int64
}

// Pool is the set of connections to one target. Safe for concurrent use; its lock
// is per target and held only to push or pop an idle connection.
type Pool struct {
	addr   string
	opts   Options
	dialer net.Dialer

	// idleTimeout is the configured limit in nanoseconds: no connection is kept
	// idle longer (the load balancer's idle timeout, or the target group's
	// target_keep_alive.idle_timeout_seconds). vouched is whether the latter
	// was set: the operator then stands for connections idle that long.
	idleTimeout atomic.Int64
	vouched     atomic.Bool
	ka          *keepAlive
	stats       counters

	// slots holds one token per open connection; handoff passes a released
	// connection straight to a request waiting for a slot.
	slots   chan struct{}
	handoff chan *Conn

	mu sync.Mutex
	// open are the connections open, idle and in use, for Cut; a connection
	// enters when dialed and leaves when discarded.
	open   []*Conn
	idle   []*Conn // oldest first: idleSince ascending
	closed bool
	// spare is the other half of idle's double buffer, for sweep.
	spare []*Conn
	// released, when not nil, is closed when a connection goes idle: requests
	// waiting for a slot at MaxConns wait on it too (see dial).
	released chan struct{}

	// nextSweep is when Pools.Run sweeps the pool next; only Run touches it.
	nextSweep time.Time

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
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	p := &Pool{
		addr:    addr,
		opts:    opts,
		ka:      newKeepAlive(),
		slots:   make(chan struct{}, opts.MaxConns),
		handoff: make(chan *Conn),
	}
	p.dialer.Timeout = opts.ConnectTimeout
	p.idleTimeout.Store(int64(60 * time.Second))
	return p
}

// Addr is the target's "ip:port".
func (p *Pool) Addr() string { return p.addr }

// SetIdleTimeout sets the configured limit on how long a connection is kept idle.
func (p *Pool) SetIdleTimeout(d time.Duration) { p.idleTimeout.Store(int64(d)) }

// SetVouched says whether the configured limit comes from the operator's
// target_keep_alive.idle_timeout_seconds, a statement that the target keeps
// connections open longer; requests that cannot be replayed may then use
// connections idle up to it while nothing is learned.
func (p *Pool) SetVouched(v bool) { p.vouched.Store(v) }

// IdleTimeout reports the configured limit on how long a connection is kept idle.
func (p *Pool) IdleTimeout() time.Duration { return time.Duration(p.idleTimeout.Load()) }

// Limits reports the idle ages up to which the pool now uses its connections.
func (p *Pool) Limits() Limits {
	return p.ka.limits(time.Duration(p.idleTimeout.Load()), p.vouched.Load())
}

// Open reports how many connections to the target are open (idle or in use).
func (p *Pool) Open() int64 { return int64(len(p.slots)) }

// Idle reports how many connections wait in the pool.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Stats reports the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	reuses := p.stats.reuses.Load()
	for _, c := range p.open {
		reuses += c.reuses.Load()
	}
	p.mu.Unlock()
	return Stats{
		Dials: p.stats.dials.Load(), Reuses: reuses,
		ClosedByTarget: p.stats.closedByTarget.Load(), Evicted: p.stats.evicted.Load(),
		FailedReused: p.stats.failedReused.Load(), Retries: p.stats.retries.Load(),
	}
}

// CountRetry counts a request sent again after a failed attempt.
func (p *Pool) CountRetry() { p.stats.retries.Add(1) }

// Get returns a connection to the target: the most recently used idle one that is
// young enough for the request and still open, or a new one. replayable says
// whether the request could be sent again if the connection failed under it;
// one that cannot is held to the pool's stricter NonReplayable limit. A dial
// failure is a *DialError.
func (p *Pool) Get(ctx context.Context, replayable bool) (*Conn, error) {
	lim := p.Limits()
	limit := lim.Reuse
	if !replayable {
		limit = lim.NonReplayable
	}
	var deadline time.Time // set at the first dial: a reused connection needs none
	for {
		if c := p.getIdle(limit); c != nil {
			return c, nil
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(p.opts.ConnectTimeout)
		}
		c, err := p.dial(ctx, deadline, limit)
		if err != errReleased {
			return c, err
		}
	}
}

// errReleased says that dial, waiting for a slot, saw a connection go idle:
// Get looks at the idle connections again.
var errReleased = errors.New("a connection to the target was released")

// getIdle returns the most recently used idle connection that is younger than
// limit and still open, or nil.
func (p *Pool) getIdle(limit time.Duration) *Conn {
	for {
		now := time.Now()
		c := p.popYoung(now, limit)
		if c == nil {
			break
		}
		age := now.Sub(c.idleSince)
		switch c.peek() {
		case peekOpen:
			p.ka.alive(age)
			c.take(now, age)
			c.reuses.Add(1)
			return c
		case peekClosed:
			// The target's FIN or RST is here: never use it.
			p.ka.closed(c.aliveAt.Sub(c.idleSince), age)
			p.stats.closedByTarget.Add(1)
		}
		// Closed, or bytes the target sent unasked: out of step either way.
		c.Discard()
	}
	return nil
}

// Dial returns a new connection to the target, for a request that must not ride
// a pooled one (a retry). At MaxConns it waits, as Get does, and may then be
// handed a connection that another request released that instant.
func (p *Pool) Dial(ctx context.Context) (*Conn, error) {
	return p.dial(ctx, time.Now().Add(p.opts.ConnectTimeout), 0)
}

// take prepares a pooled connection for a request.
func (c *Conn) take(now time.Time, idle time.Duration) {
	c.Reused, c.Idle, c.takenAt = true, idle, now
	c.sent, c.got = 0, 0
}

// popYoung takes the most recently released idle connection if it has been idle
// less than limit. Older ones are left to the sweep: the one at the bottom may
// be the pool's sentinel (see sweep).
func (p *Pool) popYoung(now time.Time, limit time.Duration) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 || now.Sub(p.idle[n-1].idleSince) >= limit {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return c
}

// dial opens a new connection, waiting until deadline for a free slot (or a
// released connection) when the pool is at MaxConns. With young > 0 it returns
// errReleased when a connection idle for less than young is in the idle list
// or goes there meanwhile, for Get to take it: a release that finds no request
// waiting on handoff, because the request is between its look at the idle list
// and its wait here, is not missed.
func (p *Pool) dial(ctx context.Context, deadline time.Time, young time.Duration) (*Conn, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		var released chan struct{}
		if young > 0 {
			p.mu.Lock()
			if n := len(p.idle); n > 0 && time.Since(p.idle[n-1].idleSince) < young {
				p.mu.Unlock()
				return nil, errReleased
			}
			if p.released == nil {
				p.released = make(chan struct{})
			}
			released = p.released
			p.mu.Unlock()
		}
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case c := <-p.handoff:
			c.take(time.Now(), 0)
			c.reuses.Add(1)
			return c, nil
		case p.slots <- struct{}{}:
		case <-released:
			return nil, errReleased
		case <-t.C:
			return nil, &DialError{Addr: p.addr, Timeout: true, Err: ErrPoolFull}
		case <-ctx.Done():
			return nil, &DialError{Addr: p.addr, Err: ctx.Err()}
		}
	}
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		<-p.slots
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		return nil, &DialError{Addr: p.addr, Timeout: timeout, Err: err}
	}
	if p.tls != nil {
		// HTTPS target. The connection is then no syscall.Conn: peek cannot
		// look under TLS records, so a reused one is trusted as open and the
		// retry rules cover a stale one.
		if nc, err = p.handshake(ctx, nc); err != nil {
			<-p.slots
			return nil, err
		}
	}
	p.stats.dials.Add(1)
	c := &Conn{Conn: nc, Buf: make([]byte, readBufSize), pool: p, takenAt: time.Now()}
	p.mu.Lock()
	c.index = len(p.open)
	p.open = append(p.open, c)
	p.mu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	return c, nil
}

func (p *Pool) put(c *Conn) {
	c.owner.Store(0)
	if c.R != c.W {
		// The target sent bytes beyond the response: the connection is out of
		// step and must not carry another request.
		c.Discard()
		return
	}
	c.R, c.W = 0, 0
	// The deadlines of the last request stay set: whatever reads or
	// writes the connection next sets its own first, and the peek does not
	// look at them. Clearing them here would cost each request a timer
	// update for nothing.
	select {
	case p.handoff <- c: // a request was waiting for a connection
		return
	default:
	}
	p.pushIdle(c)
}

// pushIdle adds c to the idle connections, or discards it when the pool keeps
// no more.
func (p *Pool) pushIdle(c *Conn) {
	now := time.Now()
	c.idleSince, c.aliveAt = now, now
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.opts.MaxIdle {
		p.mu.Unlock()
		c.Discard()
		return
	}
	p.idle = append(p.idle, c)
	if p.released != nil {
		close(p.released) // wake the requests waiting for a slot
		p.released = nil
	}
	p.mu.Unlock()
}

// forget takes a discarded connection out of the open set.
func (p *Pool) forget(c *Conn) {
	p.mu.Lock()
	p.stats.reuses.Add(c.reuses.Load())
	last := len(p.open) - 1
	moved := p.open[last]
	p.open[c.index], moved.index = moved, c.index
	p.open[last] = nil
	p.open = p.open[:last]
	p.mu.Unlock()
}

// Cut closes the connections carrying a request of owner (see Conn.SetOwner)
// and reports how many it closed; the requests on them fail as if the target
// had closed them. Idle connections and those of other owners are left alone.
func (p *Pool) Cut(owner uint64) int {
	if owner == 0 {
		return 0
	}
	var cut []*Conn
	p.mu.Lock()
	for _, c := range p.open {
		if c.owner.Load() == owner {
			cut = append(cut, c)
		}
	}
	p.mu.Unlock()
	n := 0
	for _, c := range cut {
		// Its request may have ended meanwhile, and the connection gone
		// idle or to another request: only one still tagged is closed.
		// Close, not Discard: the request's goroutine discards it.
		if c.owner.Load() == owner {
			c.Conn.Close()
			n++
		}
	}
	return n
}

// EvictIdle sweeps the pool at time now (see sweep); Pools.Run calls it as
// often as the pool's limits need.
func (p *Pool) EvictIdle(now time.Time) { p.sweep(now) }

// Sweep intervals: a pool is swept about eight times per reuse limit, so that
// the sentinel's age is known to within an eighth of it, but not more often than
// minSweep.
const (
	minSweep      = 10 * time.Millisecond
	sweepsPerIdle = 8
)

// sweep closes idle connections that can no longer be used and watches the
// oldest one, the sentinel, to learn when the target closes idle connections. It
// returns how soon the pool wants the next sweep.
//
// Every idle connection older than the reuse limit is closed except the oldest:
// it stays (never handed out, since Get takes only young ones) until the target
// closes it or the configured limit passes. Each sweep peeks at it: still open
// at age A says the target keeps connections at least A; found closed says when
// the target closes them. That is how learning adapts when the target's timeout
// grows as well as when it shrinks.
func (p *Pool) sweep(now time.Time) time.Duration {
	p.mu.Lock()
	var sentinel *Conn
	if len(p.idle) > 0 {
		sentinel = p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
	}
	p.mu.Unlock()

	if sentinel != nil {
		age := now.Sub(sentinel.idleSince)
		switch sentinel.peek() {
		case peekOpen:
			sentinel.aliveAt = now
			p.ka.alive(age)
		case peekClosed:
			p.ka.closed(sentinel.aliveAt.Sub(sentinel.idleSince), age)
			p.stats.closedByTarget.Add(1)
			sentinel.Discard()
			sentinel = nil
		default:
			sentinel.Discard()
			sentinel = nil
		}
	}
	lim := p.Limits()
	if sentinel != nil && now.Sub(sentinel.idleSince) >= lim.Hard {
		p.stats.evicted.Add(1)
		sentinel.Discard()
		sentinel = nil
	}

	p.mu.Lock()
	// idle is oldest first: the connections too old to use are a prefix.
	k := 0
	for k < len(p.idle) && now.Sub(p.idle[k].idleSince) >= lim.Reuse {
		k++
	}
	var stale []*Conn
	switch {
	case sentinel != nil:
		stale = append(stale, p.idle[:k]...)
	case k > 0 && now.Sub(p.idle[0].idleSince) < lim.Hard:
		sentinel = p.idle[0] // the oldest of the unusable ones stays to be watched
		stale = append(stale, p.idle[1:k]...)
	default:
		stale = append(stale, p.idle[:k]...)
	}
	if p.closed && sentinel != nil {
		stale = append(stale, sentinel)
		sentinel = nil
	}
	next := p.spare[:0]
	if sentinel != nil {
		next = append(next, sentinel)
	}
	next = append(next, p.idle[k:]...)
	clear(p.idle)
	p.spare, p.idle = p.idle[:0], next
	p.mu.Unlock()

	for _, c := range stale {
		p.stats.evicted.Add(1)
		c.Discard()
	}
	return max(lim.Reuse/sweepsPerIdle, minSweep)
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
