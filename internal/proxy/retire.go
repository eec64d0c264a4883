package proxy

import (
	"sync/atomic"

	"github.com/albatross-lb/albatross/internal/snapshot"
)

// stopping reports whether the connection must not begin another request: the
// proxy is shutting down, or its listener was deleted (the node then stores a
// copy of the last compiled listener with Closed set).
func (c *conn) stopping() bool {
	return c.p.shutdown.Load() || c.ln.Load().Closed
}

// CloseConns ends the connections a deleted listener accepted, gracefully, as
// Shutdown does for all: idle ones are closed at once, HTTP/2 ones get GOAWAY,
// and one with a request in flight finishes it (answered with Connection:
// close) and then closes. The caller has stopped accepting on the listener and
// stored a listener with Closed set in ln, so that connections that have not
// started waiting yet see it.
func (p *Proxy) CloseConns(ln *atomic.Pointer[snapshot.Listener]) {
	p.retireWhere(func(c *conn) bool { return c.ln == ln })
}

// retireWhere asks the connections for which match is true to end gracefully:
// idle ones close at once (parked ones here, waiting ones when woken), HTTP/2
// ones get GOAWAY, and one with a request in flight closes after it. The
// caller has made stopping() true for them first.
func (p *Proxy) retireWhere(match func(*conn) bool) {
	p.mu.Lock()
	for c := range p.conns {
		if !match(c) {
			continue
		}
		if c.h2Shutdown != nil {
			c.h2Shutdown()
			continue
		}
		c.wakeIfIdle()
	}
	p.mu.Unlock()
	p.parker.closeWhere(match)
}
