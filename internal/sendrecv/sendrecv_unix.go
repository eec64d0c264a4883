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
	var done bool
	o.n, o.err, done = readOnce(fd, o.in)
	return done // not done: woken for nothing (an older edge), wait again
}

// readOnce reads into p from the non-blocking socket fd: n bytes, or the end
// of the stream (io.EOF) or an error, with done true; done is false when
// nothing is there yet (EAGAIN) and the caller is to wait.
func readOnce(fd uintptr, p []byte) (n int, err error, done bool) {
	n, err = rawRead(int(fd), p)
	switch {
	case err == syscall.EAGAIN:
		return 0, nil, false
	case err != nil:
		return 0, os.NewSyscallError("read", err), true
	case n == 0 && len(p) > 0:
		return 0, io.EOF, true
	}
	return n, nil, true
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

// Stream is a socket's ordinary reads and writes made with raw system calls
// (see rawIO) inside its syscall.RawConn, so that they keep the socket's
// deadlines and the poller's waits but never tell the scheduler that they may
// block. The scheduler's monitor thread wakes from its deep sleep on every such
// call and then polls every 20 µs for a millisecond; a proxy that goes idle
// between bursts of requests (an HTTP/2 connection's reads and writes, most of
// all) pays that on one core many times a second.
//
// Its zero value is ready and it allocates nothing after its first use. One
// goroutine may read while another writes; reads are not safe for concurrent
// use with reads, nor writes with writes.
type Stream struct {
	rp     []byte
	rn     int
	rerr   error
	readFn func(uintptr) bool
	reads  int

	wp      []byte
	wn      int
	werr    error
	writeFn func(uintptr) bool
	writes  int
}

// Calls reports how many read and write system calls s has made. Read it
// only once nothing reads or writes through s.
func (s *Stream) Calls() (reads, writes int) { return s.reads, s.writes }

// Read reads into p from the socket behind raw, waiting under its read
// deadline until bytes, the end of the stream (io.EOF) or an error come, as
// net.Conn's Read does.
func (s *Stream) Read(raw syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.readFn == nil {
		s.readFn = s.readStep
	}
	s.rp, s.rn, s.rerr = p, 0, nil
	err := raw.Read(s.readFn)
	n := s.rn
	if err == nil {
		err = s.rerr
	}
	s.rp, s.rerr = nil, nil
	return n, err
}

// readStep is the raw read's function: false asks the runtime to wait for the
// socket to be readable and call it again.
func (s *Stream) readStep(fd uintptr) bool {
	s.reads++
	var done bool
	s.rn, s.rerr, done = readOnce(fd, s.rp)
	return done
}

// Write writes all of p to the socket behind raw, waiting under its write
// deadline while the send buffer is full, as net.Conn's Write does. It returns
// how much was written.
func (s *Stream) Write(raw syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.writeFn == nil {
		s.writeFn = s.writeStep
	}
	s.wp, s.wn, s.werr = p, 0, nil
	err := raw.Write(s.writeFn)
	n := s.wn
	if err == nil {
		err = s.werr
	}
	s.wp, s.werr = nil, nil
	return n, err
}

// writeStep is the raw write's function: false asks the runtime to wait for
// room in the send buffer and call it again.
func (s *Stream) writeStep(fd uintptr) bool {
	for s.wn < len(s.wp) {
		s.writes++
		n, err := rawWrite(int(fd), s.wp[s.wn:])
		s.wn += n
		switch {
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			s.werr = os.NewSyscallError("write", err)
			return true
		}
	}
	return true
}
