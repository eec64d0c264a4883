//go:build unix

package sendrecv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// TestRunSendsThenReadsOnceTheReplyIsThere: the message reaches the peer,
// the reply comes back, and the socket is read once, not first to find
// nothing and then again after the wait.
func TestRunSendsThenReadsOnceTheReplyIsThere(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	go func() {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(peer, buf); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // the reply comes well after the message
		peer.Write(append([]byte("re:"), buf...))
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var o Op
	in := make([]byte, 64)
	sent, n, err, state := o.Run(testutil.RawConn(t, c), []byte("hello"), in)
	if state != Received || err != nil || sent != 5 {
		t.Fatalf("Run: state %d, sent %d, err %v; want Received, 5, nil", state, sent, err)
	}
	if got := string(in[:n]); got != "re:hello" {
		t.Fatalf("reply %q, want %q", got, "re:hello")
	}
	if o.reads != 1 {
		t.Fatalf("%d read attempts, want 1: the socket was read before the reply was there", o.reads)
	}
}

// TestRunReportsTheEndOfTheStream: a peer that closes after the message
// gives io.EOF from the read.
func TestRunReportsTheEndOfTheStream(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	go func() {
		buf := make([]byte, 2)
		io.ReadFull(peer, buf)
		peer.CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var o Op
	_, n, err, state := o.Run(testutil.RawConn(t, c), []byte("hi"), make([]byte, 8))
	if state != Received || n != 0 || err != io.EOF {
		t.Fatalf("Run: state %d, n %d, err %v; want Received, 0, EOF", state, n, err)
	}
}

// TestRunLeavesWhatTheSendBufferCannotTake: a message larger than the
// socket can take at once, to a peer that does not read, comes back Unsent
// with no error and the count written, so the caller can write the rest.
func TestRunLeavesWhatTheSendBufferCannotTake(t *testing.T) {
	c, _ := testutil.TCPPair(t)
	c.SetWriteBuffer(64 << 10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	big := bytes.Repeat([]byte("x"), 64<<20)
	var o Op
	sent, _, err, state := o.Run(testutil.RawConn(t, c), big, make([]byte, 8))
	if state != Unsent || err != nil {
		t.Fatalf("Run: state %d, err %v; want Unsent, nil", state, err)
	}
	if sent <= 0 || sent >= len(big) {
		t.Fatalf("sent %d of %d, want part of it", sent, len(big))
	}
}

// TestRunHonoursTheReadDeadline: a deadline already passed ends Run before
// anything is written; one that passes during the wait is WaitFailed.
func TestRunHonoursTheReadDeadline(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	var o Op
	c.SetReadDeadline(time.Now().Add(-time.Second))
	sent, _, err, state := o.Run(testutil.RawConn(t, c), []byte("a"), make([]byte, 8))
	if state != Unsent || sent != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: state %d, sent %d, err %v; want Unsent, 0, deadline", state, sent, err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	sent, _, err, state = o.Run(testutil.RawConn(t, c), []byte("b"), make([]byte, 8))
	if state != WaitFailed || sent != 1 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("deadline in the wait: state %d, sent %d, err %v; want WaitFailed, 1, deadline", state, sent, err)
	}
	got := make([]byte, 1)
	if _, err := io.ReadFull(peer, got); err != nil || got[0] != 'b' {
		t.Fatalf("peer read %q, %v; want the message written before the wait", got, err)
	}
}

// TestRunFailsToWriteToAResetConnection: writing to a connection the peer
// reset is an Unsent with the write's error.
func TestRunFailsToWriteToAResetConnection(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	peer.SetLinger(0) // close with RST
	peer.Close()
	// The RST has arrived once a read sees it.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a reset connection succeeded")
	}
	var o Op
	_, _, err, state := o.Run(testutil.RawConn(t, c), []byte("late"), make([]byte, 8))
	if state != Unsent || err == nil {
		t.Fatalf("Run: state %d, err %v; want Unsent with the write's error", state, err)
	}
}

// TestAfterSendCanStopTheWait: AfterSend runs once the message is out, and
// returning false ends Run without a read.
func TestAfterSendCanStopTheWait(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	called := 0
	o := Op{AfterSend: func() bool { called++; return false }}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	sent, _, err, state := o.Run(testutil.RawConn(t, c), []byte("x"), make([]byte, 8))
	if state != Stopped || err != nil || sent != 1 || called != 1 || o.reads != 0 {
		t.Fatalf("Run: state %d, err %v, sent %d, AfterSend %d times, %d reads; want Stopped, nil, 1, 1, 0",
			state, err, sent, called, o.reads)
	}
	got := make([]byte, 1)
	if _, err := io.ReadFull(peer, got); err != nil || got[0] != 'x' {
		t.Fatalf("peer read %q, %v", got, err)
	}
}

// TestPeek: waiting bytes are seen and left in place; nothing waiting is
// EAGAIN; the peer's close is 0 bytes.
func TestPeek(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	raw := testutil.RawConn(t, c)
	peek := func() (n int, err error) {
		raw.Control(func(fd uintptr) { n, err = Peek(fd, make([]byte, 4)) })
		return
	}
	if _, err := peek(); err != syscall.EAGAIN {
		t.Fatalf("peek with nothing waiting: %v, want EAGAIN", err)
	}
	peer.Write([]byte("data"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Wait for the bytes, then put them back by reading them only through
	// peeks.
	var n int
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if n, err = peek(); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n != 4 || err != nil {
		t.Fatalf("peek with data waiting: %d, %v; want 4, nil", n, err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "data" {
		t.Fatalf("read after peek: %q, %v; the peek consumed bytes", got, err)
	}
	peer.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if n, err = peek(); err != syscall.EAGAIN {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if n != 0 || err != nil {
		t.Fatalf("peek after the peer closed: %d, %v; want 0, nil", n, err)
	}
}

// TestRunAllocatesNothing: a reused Op costs no allocation per exchange.
func TestRunAllocatesNothing(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	go io.Copy(peer, peer) // echo
	c.SetReadDeadline(time.Now().Add(time.Minute))
	raw := testutil.RawConn(t, c)
	var o Op
	out, in := []byte("ping"), make([]byte, 16)
	exchange := func() {
		if _, n, err, _ := o.Run(raw, out, in); err != nil || n == 0 {
			t.Fatalf("exchange: %d, %v", n, err)
		}
	}
	exchange()
	if a := testing.AllocsPerRun(200, exchange); a != 0 {
		t.Fatalf("%.1f allocations per exchange, want 0", a)
	}
}

// TestReadWaiting: bytes already on the socket are read at once; with none
// there it returns 0 without waiting (the read deadline is far off).
func TestReadWaiting(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	raw := testutil.RawConn(t, c)
	buf := make([]byte, 8)
	c.SetReadDeadline(time.Now().Add(time.Hour))
	if n := ReadWaiting(raw, buf); n != 0 {
		t.Fatalf("nothing sent, ReadWaiting read %d bytes", n)
	}
	peer.Write([]byte("abc"))
	n := 0
	for deadline := time.Now().Add(10 * time.Second); n == 0 && time.Now().Before(deadline); {
		if n = ReadWaiting(raw, buf); n == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if string(buf[:n]) != "abc" {
		t.Fatalf("ReadWaiting read %q, want %q", buf[:n], "abc")
	}
}

// TestStreamReadsAndWrites: a Stream carries bytes both ways as a net.Conn
// does, reads the end of the stream as io.EOF, and waits for bytes that have
// not come yet instead of returning nothing.
func TestStreamReadsAndWrites(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	raw := testutil.RawConn(t, c)
	c.SetDeadline(time.Now().Add(time.Minute))
	var s Stream
	if n, err := s.Write(raw, []byte("request")); n != 7 || err != nil {
		t.Fatalf("Write: %d, %v; want 7, nil", n, err)
	}
	got := make([]byte, 7)
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "request" {
		t.Fatalf("peer read %q, %v; want %q", got, err, "request")
	}
	// The read may begin before the peer writes: it then waits, not return 0.
	done := make(chan struct{})
	var n int
	var err error
	buf := make([]byte, 16)
	go func() {
		defer close(done)
		n, err = s.Read(raw, buf)
	}()
	peer.Write([]byte("reply"))
	<-done
	if err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("Read: %q, %v; want %q, nil", buf[:n], err, "reply")
	}
	peer.CloseWrite()
	if n, err := s.Read(raw, buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer's FIN: %d, %v; want 0, io.EOF", n, err)
	}
	if reads, writes := s.Calls(); reads < 2 || writes != 1 {
		t.Fatalf("Calls: %d reads, %d writes; want at least 2 and 1", reads, writes)
	}
}

// TestStreamHonoursDeadlinesAndClose: a read past its deadline and a write
// that cannot finish before its own end with os.ErrDeadlineExceeded, having
// written what the socket took; a read on a closed socket reports it closed.
func TestStreamHonoursDeadlinesAndClose(t *testing.T) {
	c, _ := testutil.TCPPair(t)
	c.SetWriteBuffer(64 << 10)
	raw := testutil.RawConn(t, c)
	var s Stream
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if n, err := s.Read(raw, make([]byte, 8)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read from a quiet peer: %d, %v; want 0, deadline exceeded", n, err)
	}
	big := bytes.Repeat([]byte("x"), 64<<20) // the peer reads none of it
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := s.Write(raw, big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= len(big) {
		t.Fatalf("Write to a peer that does not read: %d of %d, %v; want part of it and deadline exceeded", n, len(big), err)
	}
	c.Close()
	if _, err := s.Read(raw, make([]byte, 8)); err == nil {
		t.Fatal("Read from a closed socket succeeded")
	}
}

// TestStreamReportsAReset: a write to a connection the peer reset fails
// with the reset (or a broken pipe), not silently.
func TestStreamReportsAReset(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	peer.SetLinger(0)
	peer.Close()
	raw := testutil.RawConn(t, c)
	c.SetDeadline(time.Now().Add(time.Minute))
	var s Stream
	if _, err := s.Read(raw, make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after a reset: %v; want ECONNRESET", err)
	}
	if _, err := s.Write(raw, []byte("late")); !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write after a reset: %v; want EPIPE or ECONNRESET", err)
	}
}

// TestStreamAllocatesNothing: a reused Stream costs no allocation per read
// or write.
func TestStreamAllocatesNothing(t *testing.T) {
	c, peer := testutil.TCPPair(t)
	go io.Copy(peer, peer) // echo
	c.SetDeadline(time.Now().Add(time.Minute))
	raw := testutil.RawConn(t, c)
	var s Stream
	out, in := []byte("ping"), make([]byte, 16)
	exchange := func() {
		if _, err := s.Write(raw, out); err != nil {
			t.Fatalf("Write: %v", err)
		}
		for got := 0; got < len(out); {
			n, err := s.Read(raw, in)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			got += n
		}
	}
	exchange()
	if a := testing.AllocsPerRun(200, exchange); a != 0 {
		t.Fatalf("%.1f allocations per write and read, want 0", a)
	}
}
