package upstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/sendrecv"
	"github.com/albatross-lb/albatross/internal/splice"
)

// Conn is one connection to a target together with its read buffer. Buf[R:W] holds
// bytes read from the target and not yet consumed.
//
// Read and Write count the bytes of the current request and its response, and
// return an *AttemptError that records those facts when they fail, so that the
// decision to retry (Retryable) is taken on what actually happened on the wire.
type Conn struct {
	net.Conn
	Buf  []byte
	R, W int
	// Reused is true when the connection already served a request before this one.
	Reused bool
	// Idle is how long a reused connection had been idle when Get handed it out.
	Idle time.Duration

	pool *Pool
	raw  syscall.RawConn // for raw calls (peek, WriteRead, splice); nil when not plain TCP
	// owner is whose request the connection carries (SetOwner), 0 while
	// idle; index is the connection's place in pool.open.
	owner atomic.Uint64
	index int
	// reuses counts the requests after the first that the connection
	// carried (Stats.Reuses).
	reuses atomic.Int64
	// idleSince is when the connection last went idle; aliveAt the last time it
	// was seen open since then (by a sweep or by Get). The pool's lock guards
	// both while the connection is idle.
	idleSince time.Time
	aliveAt   time.Time
	// takenAt is when Get handed the connection out; sent and got count the
	// bytes of the current request written and of its response read.
	takenAt   time.Time
	sent, got int64
	done      bool

	// exchange writes a request and waits for its response (WriteRead).
	exchange sendrecv.Op

	// peek's scratch space (peek_unix.go), so that it allocates nothing.
	peekFn  func(fd uintptr)
	peekBuf [1]byte
	peeked  peekState
}

// SetOwner tags the connection with the owner of the request it now carries (a
// target registration, health.Status.Owner), so that Pool.Cut can close it
// while the request is in flight. Release clears the tag.
func (c *Conn) SetOwner(owner uint64) { c.owner.Store(owner) }

// Release returns the connection to its pool for reuse. Call it only after a
// complete response was read and the target did not ask to close.
func (c *Conn) Release() { c.pool.put(c) }

// Discard closes the connection; it is never reused. Calling it again does nothing.
func (c *Conn) Discard() {
	if c.done {
		return
	}
	c.done = true
	c.Conn.Close()
	c.pool.forget(c)
	<-c.pool.slots
}

// NoteKeepAlive records the Keep-Alive: timeout= value (in seconds, 0 when absent)
// of a response the target sent on this connection. The pool evicts idle
// connections before that timeout.
func (c *Conn) NoteKeepAlive(seconds int) { c.pool.ka.hinted(time.Duration(seconds) * time.Second) }

// Write writes to the target, counting the bytes of the current request. A
// failure is an *AttemptError.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent += int64(n)
	if err != nil {
		return n, c.fail("write", err)
	}
	return n, nil
}

// Read reads from the target, counting the bytes of the current response. A
// failure (the end of the stream included) is an *AttemptError that wraps the
// underlying error, so errors.Is(err, io.EOF) still tells a close.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.got += int64(n)
	if err != nil {
		return n, c.fail("read", err)
	}
	return n, nil
}

// RawConn returns the connection's socket for raw calls, or nil when the
// connection is not a plain TCP one (TLS to the target).
func (c *Conn) RawConn() syscall.RawConn { return c.raw }

// SpliceIn moves up to max bytes of the response from the target into pipe
// (package splice), under the read deadline already set, counting them as Read
// does. The connection must be a plain TCP one (RawConn is not nil). A failure,
// the end of the stream included, is an *AttemptError.
func (c *Conn) SpliceIn(pipe *splice.Pipe, max int) (int, error) {
	n, err := pipe.In(c.raw, max)
	c.got += int64(n)
	if err != nil {
		return n, c.fail("read", err)
	}
	return n, nil
}

// SpliceOut moves everything in pipe to the target, under the write deadline
// already set, counting the bytes as Write does. A failure is an
// *AttemptError.
func (c *Conn) SpliceOut(pipe *splice.Pipe) (int, error) {
	n, err := pipe.Out(c.raw)
	c.sent += int64(n)
	if err != nil {
		return n, c.fail("write", err)
	}
	return n, nil
}

// WriteRead writes p, the whole of a request, to the target and reads the first
// bytes of its response into dst, under the read deadline already set. Where the
// platform allows it skips the read that would find nothing yet: the request is
// written from within the wait for the response (package sendrecv). If the
// socket cannot take all of p at once, the rest is written in the ordinary way
// under a write deadline of writeTimeout. A failure is an *AttemptError whose Op
// says which half failed.
func (c *Conn) WriteRead(p, dst []byte, writeTimeout time.Duration) (int, error) {
	if c.raw == nil || !sendrecv.Supported {
		return c.writeThenRead(p, dst, writeTimeout)
	}
	sent, n, err, state := c.exchange.Run(c.raw, p, dst)
	c.sent += int64(sent)
	c.got += int64(n)
	switch state {
	case sendrecv.Received:
		if err != nil {
			return n, c.fail("read", err)
		}
		return n, nil
	case sendrecv.WaitFailed:
		return 0, c.fail("read", err)
	default: // Unsent (no AfterSend is set, so never Stopped)
		if err != nil {
			return 0, c.fail("write", err)
		}
		return c.writeThenRead(p[sent:], dst, writeTimeout)
	}
}

// writeThenRead is WriteRead the ordinary way.
func (c *Conn) writeThenRead(p, dst []byte, writeTimeout time.Duration) (int, error) {
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.Write(p); err != nil {
		return 0, err
	}
	return c.Read(dst)
}

// closeObservationWindow bounds how long after Get a close of a reused
// connection with no response byte still says when the target closes idle
// connections. A later close is the target failing while it works on the
// request, which says nothing about its keep-alive timeout.
const closeObservationWindow = time.Second

// fail wraps err with the facts of the current attempt, and teaches the pool
// when a reused connection turns out to have been closed by the target.
func (c *Conn) fail(op string, err error) error {
	e := &AttemptError{
		Addr: c.pool.addr, Op: op, Reused: c.Reused, Idle: c.Idle,
		Sent: c.sent > 0, Responded: c.got > 0, Closed: peerClosed(err), Err: err,
	}
	if e.Closed && e.Reused && !e.Responded && time.Since(c.takenAt) < closeObservationWindow {
		// Open when Get checked it at age Idle, closed by now: the target
		// closes connections idle about that long.
		c.pool.ka.closed(c.Idle, c.Idle+time.Since(c.takenAt))
		c.pool.stats.failedReused.Add(1)
	}
	return e
}

// peerClosed reports whether err says the target closed or reset the connection,
// as opposed to a timeout or a close of our own.
func peerClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// AttemptError is the failure of one request on one target connection, with the
// facts known where it happened: whether the connection was reused, whether any
// byte of the request was handed to it, whether any byte of a response came back,
// and whether the target closed the connection (rather than a deadline expiring).
type AttemptError struct {
	Addr string
	// Op is "write" or "read".
	Op string
	// Reused and Idle describe the connection: it had served a request before and
	// had been idle for Idle when it was taken for this one.
	Reused bool
	Idle   time.Duration
	// Sent is true when at least one byte of the request was written to the
	// connection; the target may then have received the request.
	Sent bool
	// Responded is true when at least one byte of a response arrived.
	Responded bool
	// Closed is true when the target closed (FIN) or reset (RST) the connection.
	Closed bool
	Err    error
}

func (e *AttemptError) Error() string {
	what := "new connection"
	if e.Reused {
		what = fmt.Sprintf("reused connection idle %v", e.Idle.Round(time.Millisecond))
	}
	return fmt.Sprintf("target %s: %s on %s (request sent: %v, response started: %v): %v",
		e.Addr, e.Op, what, e.Sent, e.Responded, e.Err)
}

func (e *AttemptError) Unwrap() error { return e.Err }

// Retryable reports whether a request whose attempt failed with err may be sent
// once more on a new connection. replayable says the request may be repeated
// without harm: its method is idempotent and its whole body (if any) is still at
// hand. Like net/http's transport, it retries only the failure that keep-alive
// itself causes, a reused connection that the target closed under the request.
func Retryable(err error, replayable bool) bool {
	var e *AttemptError
	if !errors.As(err, &e) {
		// A dial failure or a malformed response: the target is down or
		// answered, and a second try would meet the same.
		return false
	}
	switch {
	case !e.Reused:
		// A new connection failed: that is the target failing, not a stale
		// connection.
		return false
	case e.Responded:
		// The target began to answer, so it processed the request.
		return false
	case !e.Closed:
		// A timeout: the target is slow, not gone; a retry doubles its work.
		return false
	case !e.Sent:
		// Not one byte of the request left: the target cannot have seen it,
		// whatever the method.
		return true
	default:
		// The target may have received the request before it closed; only a
		// request that may be repeated is sent again (never a POST).
		return replayable
	}
}

// Idempotent reports whether method is one that RFC 9110 §9.2.2 defines as
// idempotent, so that sending it twice has the effect of sending it once.
func Idempotent(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}
