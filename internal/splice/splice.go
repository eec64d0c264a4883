// Package splice moves bytes from one socket to another through a kernel pipe
// (splice(2)), so that a large body is relayed without being copied into and
// out of the process. Where the platform has no splice, Supported is false and
// callers copy through a buffer instead.
package splice

import (
	"errors"
	"sync"
)

// ErrClosed is returned by Pool.Get after Close.
var ErrClosed = errors.New("splice: pipe pool closed")

// Pool keeps idle pipes for reuse, so that a relay does not open and close a
// pipe for every body. It keeps at most max of them; more are closed when put
// back. It is safe for concurrent use.
type Pool struct {
	mu     sync.Mutex
	free   []*Pipe
	max    int
	closed bool
}

// NewPool returns a Pool that keeps up to max idle pipes.
func NewPool(max int) *Pool { return &Pool{max: max} }

// Get returns an empty pipe, reused or new.
func (p *Pool) Get() (*Pipe, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.free); n > 0 {
		pp := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return pp, nil
	}
	p.mu.Unlock()
	return newPipe()
}

// Put gives a pipe back. A pipe that still holds bytes (its relay failed
// midway) is closed rather than kept, as is any pipe beyond the pool's limit
// or after Close.
func (p *Pool) Put(pp *Pipe) {
	if pp == nil {
		return
	}
	if pp.Held() > 0 {
		pp.Close()
		return
	}
	p.mu.Lock()
	if p.closed || len(p.free) >= p.max {
		p.mu.Unlock()
		pp.Close()
		return
	}
	p.free = append(p.free, pp)
	p.mu.Unlock()
}

// Close closes the idle pipes; pipes in use are closed when put back.
func (p *Pool) Close() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, pp := range free {
		pp.Close()
	}
}

// errNotEmpty is In on a pipe that still holds bytes.
var errNotEmpty = errors.New("splice: pipe is not empty")
