//go:build unix

package upstream

import (
	"syscall"

	"github.com/albatross-lb/albatross/internal/sendrecv"
)

// peek looks, without blocking and without consuming anything, at whether an
// idle connection's peer has closed it (a FIN or RST has arrived) or sent bytes.
// Only the connection's owner calls it. It allocates nothing after the first
// call on a connection.
func (c *Conn) peek() peekState {
	if c.raw == nil {
		return peekOpen
	}
	if c.peekFn == nil {
		c.peekFn = c.peekFD
	}
	c.peeked = peekOpen
	// Control, not Read: the peek never waits, so it needs neither the read
	// lock nor the read deadline, which an idle connection keeps from its
	// last request (see Pool.put) and which may have passed.
	if err := c.raw.Control(c.peekFn); err != nil {
		return peekClosed
	}
	return c.peeked
}

// peekFD is the raw call behind peek: one non-blocking MSG_PEEK of one byte.
func (c *Conn) peekFD(fd uintptr) {
	n, err := sendrecv.Peek(fd, c.peekBuf[:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
		c.peeked = peekOpen // nothing to read: the peer is still there
	case err != nil:
		c.peeked = peekClosed // ECONNRESET and the like
	case n == 0:
		c.peeked = peekClosed // FIN
	default:
		c.peeked = peekData
	}
}
