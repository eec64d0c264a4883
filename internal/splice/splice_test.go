//go:build linux

package splice

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// TestRelayMovesEveryByte relays 4 MiB from one connection to another through
// one pipe, as the proxy relays a body, and checks that what arrives is what
// was sent, byte for byte, with a writer and a reader on the far ends that run
// at their own pace.
func TestRelayMovesEveryByte(t *testing.T) {
	srcWriter, src := testutil.TCPPair(t)
	dst, dstReader := testutil.TCPPair(t)

	want := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	writeErr := make(chan error, 1)
	go func() {
		// Uneven writes, so that the pipe sees partial chunks.
		rest := want
		for len(rest) > 0 {
			n := min(len(rest), 1+rng.IntN(100<<10))
			if _, err := srcWriter.Write(rest[:n]); err != nil {
				writeErr <- err
				return
			}
			rest = rest[n:]
		}
		writeErr <- srcWriter.CloseWrite()
	}()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(dstReader)
		got <- b
	}()

	pool := NewPool(4)
	defer pool.Close()
	p, err := pool.Get()
	if err != nil {
		t.Fatal(err)
	}
	srcRaw, dstRaw := testutil.RawConn(t, src), testutil.RawConn(t, dst)
	deadline := time.Now().Add(30 * time.Second)
	src.SetReadDeadline(deadline)
	dst.SetWriteDeadline(deadline)
	var moved int
	for {
		n, err := p.In(srcRaw, p.Cap())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("In after %d bytes: %v", moved, err)
		}
		if n <= 0 || n > p.Cap() || p.Held() != n {
			t.Fatalf("In moved %d bytes, pipe holds %d, can hold %d", n, p.Held(), p.Cap())
		}
		m, err := p.Out(dstRaw)
		if err != nil || m != n || p.Held() != 0 {
			t.Fatalf("Out moved %d of %d bytes (%d left): %v", m, n, p.Held(), err)
		}
		moved += m
	}
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	dst.CloseWrite()
	b := <-got
	if moved != len(want) || !bytes.Equal(b, want) {
		t.Fatalf("moved %d bytes, far end received %d; equal to what was sent: %v", moved, len(b), bytes.Equal(b, want))
	}
	pool.Put(p)
}

// TestInWaitsUnderReadDeadline: with nothing to move, In waits for the source
// and ends at its read deadline with a timeout, and the pipe stays usable.
func TestInWaitsUnderReadDeadline(t *testing.T) {
	w, src := testutil.TCPPair(t)
	p, err := newPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := p.In(testutil.RawConn(t, src), 1024)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("In = %d, %v; want 0 and a deadline error", n, err)
	}
	// Bytes that come later are moved by the next In.
	if _, err := w.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	src.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := p.In(testutil.RawConn(t, src), 1024); n != 4 || err != nil {
		t.Fatalf("In after the write = %d, %v; want 4, nil", n, err)
	}
}

// TestOutWaitsUnderWriteDeadline: a destination whose reader does not read
// fills up; Out then waits and ends at the write deadline, leaving the rest in
// the pipe, which the pool then refuses to keep.
func TestOutWaitsUnderWriteDeadline(t *testing.T) {
	srcWriter, src := testutil.TCPPair(t)
	dst, _ := testutil.TCPPair(t) // the far end never reads
	pool := NewPool(4)
	defer pool.Close()
	p, err := pool.Get()
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	go func() {
		for i := 0; i < 200; i++ { // bounded: 12.5 MiB, more than two socket buffers hold
			if _, err := srcWriter.Write(chunk); err != nil {
				return
			}
		}
	}()
	srcRaw, dstRaw := testutil.RawConn(t, src), testutil.RawConn(t, dst)
	src.SetReadDeadline(time.Now().Add(10 * time.Second))
	dst.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	var outErr error
	for i := 0; i < 1000 && outErr == nil; i++ {
		if _, err := p.In(srcRaw, 64<<10); err != nil {
			t.Fatalf("In: %v", err)
		}
		_, outErr = p.Out(dstRaw)
	}
	if !errors.Is(outErr, os.ErrDeadlineExceeded) {
		t.Fatalf("Out into a full socket: %v; want a deadline error", outErr)
	}
	if p.Held() == 0 {
		t.Fatal("the pipe is empty after a failed Out; want the unsent bytes held")
	}
	if _, err := p.In(srcRaw, 1); err == nil {
		t.Fatal("In on a pipe that holds bytes succeeded")
	}
	pool.Put(p) // closed, not kept
	q, err := pool.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q == p || q.Held() != 0 {
		t.Fatal("the pool handed out again a pipe that still held bytes")
	}
	src.Close() // ends the writer
}

// TestPoolReusesAndCloses: an empty pipe put back is handed out again, at most
// max are kept, and Get after Close fails.
func TestPoolReusesAndCloses(t *testing.T) {
	pool := NewPool(1)
	a, err := pool.Get()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pool.Get()
	if err != nil {
		t.Fatal(err)
	}
	pool.Put(a)
	pool.Put(b) // beyond max: closed
	if got, _ := pool.Get(); got != a {
		t.Fatal("the pool did not hand back the pipe it kept")
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(b.r), syscall.F_GETFD, 0); errno != syscall.EBADF {
		t.Fatalf("the pipe put back beyond the limit is still open (fcntl: %v); want it closed", errno)
	}
	pool.Put(a)
	pool.Close()
	if _, err := pool.Get(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v; want ErrClosed", err)
	}
}
