//go:build linux

package splice

import (
	"io"
	"os"
	"syscall"
)

// Supported is whether this platform can splice between sockets.
const Supported = true

// Flags of splice(2): move pages rather than copy them where the kernel can,
// and never block on the pipe (the sockets are non-blocking already).
const (
	spliceMove     = 0x1
	spliceNonblock = 0x2
)

// Pipe sizes: Linux's default capacity, the capacity asked for (fcntl
// F_SETPIPE_SZ, within the unprivileged limit of /proc/sys/fs/pipe-max-size),
// and the fcntl commands that set and read it.
const (
	defaultCapacity = 64 << 10
	wantCapacity    = 256 << 10
	fSetPipeSize    = 1031
	fGetPipeSize    = 1032
)

// Pipe is a non-blocking kernel pipe that carries bytes from one socket to
// another. Fill it with In and empty it with Out, in turn. A Pipe is not safe
// for concurrent use.
type Pipe struct {
	r, w int
	held int // bytes in the pipe, not yet moved out
	cap  int // the pipe's capacity

	// The current call's arguments and results, kept here so that the
	// functions handed to the raw connection are bound once.
	max, n int
	err    error
	inFn   func(uintptr) bool
	outFn  func(uintptr) bool
}

func newPipe() (*Pipe, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	p := &Pipe{r: fds[0], w: fds[1], cap: defaultCapacity}
	// A larger pipe moves a large body in fewer, larger steps. The kernel
	// may refuse (a per-user limit on pipe memory); the default then serves.
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p.w), fSetPipeSize, wantCapacity)
	if errno != 0 {
		n, _, errno = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p.w), fGetPipeSize, 0)
	}
	if errno == 0 && int(n) > 0 {
		p.cap = int(n)
	}
	p.inFn, p.outFn = p.in, p.out
	return p, nil
}

// Cap reports how many bytes the pipe can hold: the most one In may move.
func (p *Pipe) Cap() int { return p.cap }

// Held reports how many bytes are in the pipe.
func (p *Pipe) Held() int { return p.held }

// Close closes the pipe's two ends.
func (p *Pipe) Close() error {
	err := syscall.Close(p.r)
	if werr := syscall.Close(p.w); err == nil {
		err = werr
	}
	return err
}

// In moves up to max bytes that src has received into the pipe, which must be
// empty, waiting under src's read deadline until some are there. It returns how
// many it moved; at the end of src's stream it returns 0 and io.EOF.
//
// The pipe must be empty (In refuses otherwise): then the only reason splice
// has nothing to move is that src has nothing to give, and waiting for src to
// become readable is right. A max above Cap moves at most Cap.
func (p *Pipe) In(src syscall.RawConn, max int) (int, error) {
	if p.held > 0 {
		return 0, errNotEmpty
	}
	p.max, p.n, p.err = max, 0, nil
	if err := src.Read(p.inFn); err != nil {
		return 0, err
	}
	if p.err != nil {
		return 0, p.err
	}
	if p.n == 0 {
		return 0, io.EOF
	}
	p.held = p.n
	return p.n, nil
}

// in is the raw read behind In; it returns false to wait for src.
func (p *Pipe) in(fd uintptr) bool {
	for {
		n, err := syscall.Splice(int(fd), nil, p.w, nil, p.max, spliceMove|spliceNonblock)
		switch err {
		case nil:
			p.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		p.err = os.NewSyscallError("splice", err)
		return true
	}
}

// Out moves everything in the pipe to dst, waiting under dst's write deadline
// while dst's send buffer is full. It returns how many bytes it moved; on an
// error the rest stay in the pipe (Held), which is then of no further use.
func (p *Pipe) Out(dst syscall.RawConn) (int, error) {
	p.n, p.err = 0, nil
	err := dst.Write(p.outFn)
	if err == nil {
		err = p.err
	}
	return p.n, err
}

// out is the raw write behind Out; it returns false to wait for dst.
func (p *Pipe) out(fd uintptr) bool {
	for p.held > 0 {
		n, err := syscall.Splice(p.r, nil, int(fd), nil, p.held, spliceMove|spliceNonblock)
		if n > 0 {
			p.held -= int(n)
			p.n += int(n)
			continue
		}
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case nil:
			err = io.ErrUnexpectedEOF // the pipe held bytes but gave none
		}
		p.err = os.NewSyscallError("splice", err)
		return true
	}
	return true
}
