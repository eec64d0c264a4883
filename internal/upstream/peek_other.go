//go:build !unix

package upstream

// peek cannot look at a socket without reading from it on this platform; every
// idle connection is taken to be open, and a close is caught (and retried when
// safe) when a request meets it.
func (c *Conn) peek() peekState { return peekOpen }
