//go:build unix

package upstream

import "syscall"

// peek looks, without blocking and without consuming anything, at whether an
// idle connection's peer has closed it (a FIN or RST has arrived) or sent bytes.
func peek(raw syscall.RawConn) peekState {
	if raw == nil {
		return peekOpen
	}
	var b [1]byte
	state := peekOpen
	err := raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
			state = peekOpen // nothing to read: the peer is still there
		case err != nil:
			state = peekClosed // ECONNRESET and the like
		case n == 0:
			state = peekClosed // FIN
		default:
			state = peekData
		}
		return true
	})
	if err != nil {
		return peekClosed
	}
	return state
}
