package proxy

import (
	"io"
	"net"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/sendrecv"
)

// The deferred reply (replyThenRead) over TLS. A plain connection writes a
// whole response from inside the raw wait for the next request, which saves
// the read that would find nothing and keeps the runtime's blocking-call
// bookkeeping off both calls. Over TLS the same holds once the response is
// sealed: crypto/tls writes its records into tlsSocket.sealed instead of the
// socket (sealReply), the raw wait writes them and reads the client's next
// records into work.tlsIn, and crypto/tls's next read takes those bytes from
// tlsSocket.pending before it touches the socket again.

// tlsSocket is the TCP connection under a client's TLS connection, as
// crypto/tls sees it.
type tlsSocket struct {
	net.Conn

	// sealing diverts crypto/tls's writes into sealed (sealReply).
	sealing bool
	sealed  []byte
	// pending are bytes the raw wait read from the socket that crypto/tls
	// has not taken yet; they come before anything still in the socket.
	pending []byte

	// Record framing of the bytes handed to crypto/tls, so that a reply is
	// deferred only when crypto/tls holds nothing of a next request: hdr
	// counts the bytes seen of the current record's 5-byte header, left the
	// bytes of its body still to come, and records the records completed
	// since the last reply.
	hdr     int
	hdrBuf  [5]byte
	left    int
	records int
	// full is whether the last read of the connection filled its buffer
	// (crypto/tls may then hold more of the record).
	full bool

	// io makes Conn's reads and writes raw system calls (sendrecv.Stream)
	// through raw, the RawConn of Conn when it is a *net.TCPConn (nil for
	// the os.File a parked connection is rebuilt on, or when the platform
	// has no raw path). setConn sets both.
	io  sendrecv.Stream
	raw syscall.RawConn
}

// setConn makes nc the socket under s (nil while a parked connection is
// detached from it).
func (s *tlsSocket) setConn(nc net.Conn) {
	s.Conn, s.raw = nc, nil
	if tc, ok := nc.(*net.TCPConn); ok && sendrecv.Supported {
		s.raw, _ = tc.SyscallConn()
	}
}

// Write implements net.Conn.
func (s *tlsSocket) Write(p []byte) (int, error) {
	if s.sealing {
		s.sealed = append(s.sealed, p...)
		return len(p), nil
	}
	if s.raw != nil {
		n, err := s.io.Write(s.raw, p)
		return n, opError("write", err)
	}
	return s.Conn.Write(p)
}

// opError wraps an error of a raw read or write as a TCPConn wraps its own
// (the cause stays visible to errors.Is); io.EOF stays as it is.
func opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}

// Read implements net.Conn.
func (s *tlsSocket) Read(p []byte) (int, error) {
	var n int
	var err error
	if len(s.pending) > 0 {
		n = copy(p, s.pending)
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			s.pending = nil // the array is the connection's work buffer
		}
	} else if s.raw != nil {
		n, err = s.io.Read(s.raw, p)
		err = opError("read", err)
	} else {
		n, err = s.Conn.Read(p)
	}
	s.frame(p[:n])
	return n, err
}

// frame follows the TLS record framing (RFC 8446 §5.1) across b.
func (s *tlsSocket) frame(b []byte) {
	for len(b) > 0 {
		if s.left > 0 {
			k := min(s.left, len(b))
			s.left -= k
			b = b[k:]
			if s.left == 0 {
				s.records++
			}
			continue
		}
		k := copy(s.hdrBuf[s.hdr:], b)
		s.hdr += k
		b = b[k:]
		if s.hdr == len(s.hdrBuf) {
			s.hdr = 0
			s.left = int(s.hdrBuf[3])<<8 | int(s.hdrBuf[4])
			if s.left == 0 {
				s.records++
			}
		}
	}
}

// quiet reports whether crypto/tls can hold nothing of a next request: since
// the last reply it was handed exactly one whole record (the request just
// served), no part of another, and its last read did not fill the buffer.
func (s *tlsSocket) quiet() bool {
	return s.records == 1 && s.hdr == 0 && s.left == 0 && len(s.pending) == 0 && !s.full
}

// tlsInSize is the buffer the raw wait reads a TLS client's next records into.
const tlsInSize = 4 << 10

// mayDeferTLSReply is mayDeferReply for a TLS connection.
func (c *conn) mayDeferTLSReply() bool {
	s := c.sock
	quiet := s.quiet()
	s.records = 0
	if !quiet || c.pollConn() == nil {
		return false
	}
	if c.replyOp.AfterSend == nil {
		c.replyOp.AfterSend = c.replySent
	}
	return true
}

// sealReply has crypto/tls encrypt p into records kept for the raw path
// rather than written, and makes them the deferred reply.
func (c *conn) sealReply(p []byte) error {
	s := c.sock
	s.sealed, s.sealing = c.sealed[:0], true
	_, err := c.nc.Write(p)
	s.sealing = false
	c.sealed, s.sealed = s.sealed, nil
	c.reply, c.replyText = c.sealed, len(p)
	return err
}

// tlsReplyThenRead is replyThenRead for a TLS connection: the reply is
// ciphertext written to the TCP socket, and what the wait reads goes to
// crypto/tls, which then fills dst.
func (c *conn) tlsReplyThenRead(dst []byte, deadline, waitUntil time.Time, idle time.Duration) (int, error) {
	if c.tlsIn == nil {
		c.tlsIn = make([]byte, tlsInSize)
	}
	s := c.sock
	sent, n, err, state := c.replyOp.Run(c.pollRaw, c.reply, c.tlsIn)
	if state == sendrecv.Received {
		if n == 0 {
			return 0, err
		}
		s.pending = c.tlsIn[:n]
		c.nc.SetReadDeadline(deadline)
		return c.nc.Read(dst)
	}
	// An unsent rest goes to the TCP socket as it is: the records are
	// sealed already.
	missed, err := c.afterReply(sent, err, state, deadline, waitUntil, idle)
	if err != nil {
		return 0, err
	}
	if missed {
		c.nc.SetReadDeadline(time.Time{})
		if m := sendrecv.ReadWaiting(c.pollRaw, c.tlsIn); m > 0 {
			c.pipelines = true
			s.pending = c.tlsIn[:m]
		}
	}
	c.nc.SetReadDeadline(deadline)
	return c.nc.Read(dst)
}
