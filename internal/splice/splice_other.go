//go:build !linux

package splice

import (
	"errors"
	"syscall"
)

// Supported is whether this platform can splice between sockets.
const Supported = false

var errUnsupported = errors.New("splice: not supported on this platform")

// Pipe is a kernel pipe; on this platform none can be made.
type Pipe struct{}

func newPipe() (*Pipe, error) { return nil, errUnsupported }

// Held reports how many bytes are in the pipe.
func (p *Pipe) Held() int { return 0 }

// Cap reports how many bytes the pipe can hold.
func (p *Pipe) Cap() int { return 0 }

// Close closes the pipe.
func (p *Pipe) Close() error { return nil }

// In is not supported on this platform.
func (p *Pipe) In(src syscall.RawConn, max int) (int, error) { return 0, errUnsupported }

// Out is not supported on this platform.
func (p *Pipe) Out(dst syscall.RawConn) (int, error) { return 0, errUnsupported }
