//go:build !unix

package sendrecv

import (
	"errors"
	"syscall"
)

// Supported is whether Op works on this platform.
const Supported = false

// Op is a send-then-receive on one socket; on this platform it is not
// available and callers write and read in the ordinary way.
type Op struct {
	// AfterSend is as on unix.
	AfterSend func() bool
}

// Run reports Unsent with an error: the platform has no raw path.
func (o *Op) Run(raw syscall.RawConn, out, in []byte) (sent, n int, err error, state State) {
	return 0, 0, errors.New("sendrecv: not supported on this platform"), Unsent
}

// ReadWaiting reads nothing on this platform: Run never defers a read here.
func ReadWaiting(raw syscall.RawConn, p []byte) int { return 0 }

// Stream is a socket's reads and writes as raw system calls; this platform
// has none (Supported is false), so callers read and write the net.Conn.
type Stream struct{}

// Read reports an error: the platform has no raw path.
func (s *Stream) Read(raw syscall.RawConn, p []byte) (int, error) {
	return 0, errors.New("sendrecv: not supported on this platform")
}

// Write reports an error: the platform has no raw path.
func (s *Stream) Write(raw syscall.RawConn, p []byte) (int, error) {
	return 0, errors.New("sendrecv: not supported on this platform")
}

// Calls reports no calls: the platform has no raw path.
func (s *Stream) Calls() (reads, writes int) { return 0, 0 }
