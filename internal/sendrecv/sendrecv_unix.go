//go:build unix

package sendrecv

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// Supported is whether Op works on this platform.
const Supported = true

// Op is a reusable send-then-receive on one socket; its zero value is ready.
// It allocates nothing after its first use, so keep one per connection. An Op
// is not safe for concurrent use.
type Op struct {
	// AfterSend, when set, runs once the whole message is written and before
	// the wait; returning false ends Run with Stopped. It runs with the
	// socket's read lock held and must not read from the socket.
	AfterSend func() bool

	out, in []byte
	sent, n int
	err     error
	state   State
	fn      func(uintptr) bool
	// reads counts the read attempts of the last Run, for tests.
	reads int
}

// Run writes out to the socket behind raw without blocking and, if all of it
// is written, waits for the socket to be readable, under its read deadline,
// and reads once into in. It returns how many bytes of out were written, how
// many were read, the error of the step that failed, and how far it got.
//
// Bytes that reached the socket before Run began, and whose readiness the
// runtime's poller had already taken, do not end the wait: only bytes that
// arrive after the message do. Where the peer may send before it has the
// message (an HTTP client pipelining), bound the wait with the read deadline
// and then read without waiting (ReadWaiting).
func (o *Op) Run(raw syscall.RawConn, out, in []byte) (sent, n int, err error, state State) {
	if o.fn == nil {
		o.fn = o.step
	}
	o.out, o.in, o.sent, o.n, o.err, o.state, o.reads = out, in, 0, 0, nil, Unsent, 0
	rerr := raw.Read(o.fn)
	sent, n, err, state = o.sent, o.n, o.err, o.state
	o.out, o.in, o.err = nil, nil, nil // pin no buffers between uses
	switch {
	case rerr == nil:
	case state == Unsent:
		// The socket was closed, or its deadline had passed, before the
		// first step ran.
		err = rerr
	default:
		// Written whole, and then the wait failed.
		state, err = WaitFailed, rerr
	}
	return sent, n, err, state
}

// step is the function the raw read calls: first to write, then, each time
// the poller reports the socket readable, to read. It returns true when Run
// is to return.
func (o *Op) step(fd uintptr) bool {
	if o.state == Unsent {
		if o.sent < len(o.out) {
			n, err := rawWrite(int(fd), o.out[o.sent:])
			if n > 0 {
				o.sent += n
			}
			if o.sent < len(o.out) {
				if err != nil && err != syscall.EAGAIN {
					o.err = os.NewSyscallError("write", err)
				}
				return true
			}
		}
		o.state = Received // written: what is left is to receive
		if o.AfterSend != nil && !o.AfterSend() {
			o.state = Stopped
			return true
		}
		// The runtime forgot the socket's readiness before calling this
		// step, and a reply cannot come before its message left, so the
		// wait that follows misses nothing: no read that would find nothing.
		return false
	}
	o.reads++
	n, err := rawRead(int(fd), o.in)
	switch {
	case err == syscall.EAGAIN:
		return false // woken for nothing (an older edge): wait again
	case err != nil:
		o.err = os.NewSyscallError("read", err)
	case n == 0 && len(o.in) > 0:
		o.err = io.EOF
	default:
		o.n = n
	}
	return true
}

// The socket is non-blocking, so these calls never wait: they are made raw,
// without telling the scheduler, which would otherwise count them as
// possibly blocking and may hand the goroutine's processor to another thread
// while they run (a thread switch that costs more than the call).

// rawWrite is write(2) on a non-blocking socket.
func rawWrite(fd int, p []byte) (int, error) {
	return rawIO(syscall.SYS_WRITE, uintptr(fd), p, 0)
}

// rawRead is read(2) on a non-blocking socket.
func rawRead(fd int, p []byte) (int, error) {
	return rawIO(syscall.SYS_READ, uintptr(fd), p, 0)
}

// Peek looks at up to len(p) bytes waiting on the non-blocking socket fd
// without consuming them (recv with MSG_PEEK and MSG_DONTWAIT), made raw as
// the calls above. n == 0 with a nil error is the end of the stream; EAGAIN
// says nothing is waiting.
func Peek(fd uintptr, p []byte) (int, error) {
	return rawIO(syscall.SYS_RECVFROM, fd, p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// rawIO makes the system call trap on fd and p (read, write, or recvfrom with
// flags), again while a signal interrupts it.
func rawIO(trap, fd uintptr, p []byte, flags uintptr) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), flags, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, errno
	}
}

// ReadWaiting reads into p what is already waiting on the socket behind raw,
// without waiting for more, and returns how much (0 when nothing is there or
// the read fails). It allocates: it is for rare paths.
func ReadWaiting(raw syscall.RawConn, p []byte) int {
	n := 0
	raw.Read(func(fd uintptr) bool {
		if m, err := rawRead(int(fd), p); err == nil {
			n = m
		}
		return true
	})
	return n
}
