package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// detach makes fd, a duplicate of the connection's socket descriptor, the
// connection's only hold on its socket: the net.Conn is closed, freeing its
// netFD, addresses and runtime poll descriptor. The socket stays open.
//
// A TLS connection keeps its tls.Conn, whose record state cannot be rebuilt
// on a descriptor, in parkedTLS: only the TCP connection under it, in its
// tlsSocket, is closed and later rebuilt.
func (c *conn) detach(fd int) {
	c.p.mu.Lock()
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		s := tc.NetConn().(*tlsSocket)
		nc = s.Conn
		s.setConn(nil)
		c.parkedTLS = tc
	}
	c.nc, c.pollRaw, c.parkFD = nil, nil, int32(fd)
	c.p.mu.Unlock()
	nc.Close()
}

// attach rebuilds a detached connection's net.Conn on its descriptor, which
// the net.Conn then owns. On failure the descriptor is closed: the caller
// closes the connection.
func (c *conn) attach() error {
	f := os.NewFile(uintptr(c.parkFD), "client")
	// os.NewFile registers a non-blocking descriptor with the runtime's
	// poller; deadlines work only if it did.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		c.parkFD = -1
		return fmt.Errorf("rebuilding a parked connection: %w", err)
	}
	fc := &fileConn{f: f, remote: c.client}
	c.p.mu.Lock()
	if tc := c.parkedTLS; tc != nil {
		tc.NetConn().(*tlsSocket).setConn(fc)
		c.nc, c.parkedTLS = tc, nil
	} else {
		c.nc = fc
	}
	c.parkFD = -1
	c.p.mu.Unlock()
	return nil
}

// closeDetached closes a detached connection's descriptor. A TLS
// connection is rebuilt first so that it ends with its close_notify alert,
// as an attached one does.
func (c *conn) closeDetached() {
	if c.parkedTLS != nil && c.parkFD >= 0 && c.attach() == nil {
		c.nc.Close()
		return
	}
	c.parkedTLS = nil
	if c.parkFD >= 0 {
		syscall.Close(int(c.parkFD))
		c.parkFD = -1
	}
}

// fileConn is a client connection rebuilt after parking: the socket as an
// os.File, which polls and times out as a net.TCPConn does, behind net.Conn.
// Its errors are *net.OpError, as a TCPConn's are.
type fileConn struct {
	f      *os.File
	remote netip.AddrPort
}

// Read implements net.Conn.
func (fc *fileConn) Read(b []byte) (int, error) {
	n, err := fc.f.Read(b)
	return n, netError("read", err)
}

// Write implements net.Conn.
func (fc *fileConn) Write(b []byte) (int, error) {
	n, err := fc.f.Write(b)
	return n, netError("write", err)
}

// Close implements net.Conn.
func (fc *fileConn) Close() error { return netError("close", fc.f.Close()) }

// LocalAddr implements net.Conn; nil when the socket cannot say.
func (fc *fileConn) LocalAddr() net.Addr {
	rc, err := fc.f.SyscallConn()
	if err != nil {
		return nil
	}
	var sa syscall.Sockaddr
	rc.Control(func(fd uintptr) { sa, _ = syscall.Getsockname(int(fd)) })
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
	case *syscall.SockaddrInet6:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
	}
	return nil
}

// RemoteAddr implements net.Conn: the client's address as accepted.
func (fc *fileConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(fc.remote) }

// SetDeadline implements net.Conn.
func (fc *fileConn) SetDeadline(t time.Time) error { return fc.f.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (fc *fileConn) SetReadDeadline(t time.Time) error { return fc.f.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (fc *fileConn) SetWriteDeadline(t time.Time) error { return fc.f.SetWriteDeadline(t) }

// SyscallConn returns the socket for raw calls, as TCPConn.SyscallConn does.
func (fc *fileConn) SyscallConn() (syscall.RawConn, error) { return fc.f.SyscallConn() }

// netError turns an os.File's error into the *net.OpError a TCPConn returns:
// the same cause (a deadline, a reset, a closed connection), io.EOF unchanged.
func netError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Err: err}
}
