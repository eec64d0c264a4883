// Package sendrecv sends a message on a TCP socket and waits for the reply with
// one read where net.Conn makes two.
//
// A net.Conn read always tries the socket first and waits for the poller only
// when that try finds nothing, so a request written to a target and then read
// for its response costs a read that returns EAGAIN before every wait: about
// one wasted system call per message in each direction of a proxied exchange.
// Op writes the message from inside the socket's raw read (syscall.RawConn),
// after the runtime has forgotten the socket's earlier readiness and before it
// waits, so the wait that follows cannot miss the reply, and reads only once
// the poller says the reply is there.
//
// Stream does a socket's ordinary reads and writes with the same raw calls,
// where the socket is read and written in the usual way but its calls must
// not wake the scheduler's monitor thread.
package sendrecv

// State says how far Run got.
type State uint8

const (
	// Received: the message was written whole and the read that followed
	// returned bytes (n > 0), the end of the stream (io.EOF) or an error.
	Received State = iota
	// Unsent: the message was not written whole. A nil error means the
	// socket's send buffer is full: the caller writes the rest, out[sent:], in
	// the ordinary blocking way. Otherwise the write failed, or never began
	// because the socket was closed or its read deadline had passed.
	Unsent
	// Stopped: the message was written whole and AfterSend asked not to wait.
	Stopped
	// WaitFailed: the message was written whole and the wait for the reply
	// ended with the error: the read deadline passed or the socket was closed.
	WaitFailed
)
