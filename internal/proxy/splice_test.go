package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/splice"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// TestLargeBodyIsSpliced: a response body larger than the copy buffer moves
// from the target to the client through a kernel pipe, intact, twice on the
// same connections (the pipe and the target connection are reused), and the
// access log counts every byte the client got.
func TestLargeBodyIsSpliced(t *testing.T) {
	if !splice.Supported {
		t.Skip("splice is Linux-only; elsewhere bodies are copied, which the other tests cover")
	}
	const size = 3<<20 + 12345
	body := randomBytes(size, 3)
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body)
	})

	log := &sentLog{}
	p := quietProxy()
	c := dialThrough(t, p, log, 30*time.Second, target)
	cr := &countingReader{r: c, touch: func() {}}
	br := bufio.NewReader(cr)
	for i := 0; i < 2; i++ {
		if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("response %d: read %d of %d body bytes (%v); equal: %v", i, len(got), size, err, bytes.Equal(got, body))
		}
		if resp.Close {
			t.Fatalf("response %d closes the connection", i)
		}
	}
	// Each body but what arrived with its head went through the pipe.
	if s := p.spliced.Load(); s < 2*(size-64<<10) || s > 2*size {
		t.Fatalf("%d body bytes were spliced; want nearly all of 2 x %d", s, size)
	}
	waitFor(t, "two log entries", func() bool { return len(log.entries()) == 2 })
	var logged int64
	for _, n := range log.entries() {
		logged += n
	}
	if logged != cr.n.Load() {
		t.Fatalf("sent_bytes total %d; the client received %d", logged, cr.n.Load())
	}
}

// TestSplicedBodyIdleTimeout: a target that stops sending in the middle of a
// large body is cut off once the idle timeout passes with no byte moving, and
// the client gets every byte that came before, then the end of the connection.
func TestSplicedBodyIdleTimeout(t *testing.T) {
	if !splice.Supported {
		t.Skip("splice is Linux-only")
	}
	const sent = 300 << 10
	target := testutil.Serve(t, func(tc net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(tc)); err != nil {
			return
		}
		fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 1<<20)
		tc.Write(bytes.Repeat([]byte("y"), sent))
		io.Copy(io.Discard, tc) // and then nothing more, until the test ends
	})
	log := &sentLog{}
	p := quietProxy()
	c := dialThrough(t, p, log, 300*time.Millisecond, target)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if len(got) != sent || err != io.ErrUnexpectedEOF {
		t.Fatalf("read %d body bytes, then %v; want %d, then the connection's end", len(got), err, sent)
	}
	if p.spliced.Load() == 0 {
		t.Fatal("nothing was spliced: the body took the copying path")
	}
	waitFor(t, "a log entry", func() bool { return len(log.entries()) == 1 })
}

// TestLargeUploadIsSpliced: a request body larger than the copy buffer moves
// from the client to the target through a kernel pipe, intact.
func TestLargeUploadIsSpliced(t *testing.T) {
	if !splice.Supported {
		t.Skip("splice is Linux-only")
	}
	const size = 2<<20 + 777
	body := randomBytes(size, 5)
	received := make(chan []byte, 1)
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		received <- b
		io.WriteString(w, "stored")
	})

	p := quietProxy()
	c := dialThrough(t, p, nil, 30*time.Second, target)
	writeErr := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		if err == nil {
			_, err = c.Write(body)
		}
		writeErr <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d; want 200", resp.StatusCode)
	}
	got := <-received
	if !bytes.Equal(got, body) {
		t.Fatalf("the target received %d of %d bytes; equal: %v", len(got), size, bytes.Equal(got, body))
	}
	if s := p.spliced.Load(); s == 0 || s > size {
		t.Fatalf("%d body bytes were spliced; want most of %d", s, size)
	}
}

// TestSplicedUploadIdleTimeout: a client that stops sending in the middle of
// a large body gets 408 once the idle timeout passes with no byte moving.
func TestSplicedUploadIdleTimeout(t *testing.T) {
	if !splice.Supported {
		t.Skip("splice is Linux-only")
	}
	started := make(chan struct{}, 1)
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		io.Copy(io.Discard, r.Body)
	})

	p := quietProxy()
	c := dialThrough(t, p, nil, 300*time.Millisecond, target)
	fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 4<<20)
	// The head alone first, so that the body is not in the proxy's buffer when
	// it starts streaming it; then a part of the body, and nothing more.
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request head never reached the target")
	}
	c.Write(bytes.Repeat([]byte("z"), 200<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 408 {
		t.Fatalf("status %d; want 408", resp.StatusCode)
	}
	if p.spliced.Load() == 0 {
		t.Fatal("nothing was spliced: the body took the copying path")
	}
}

// TestUntilCloseBodyIsSpliced: a response whose body ends when the target
// closes (no Content-Length, HTTP/1.0) moves through a kernel pipe, whole.
func TestUntilCloseBodyIsSpliced(t *testing.T) {
	if !splice.Supported {
		t.Skip("splice is Linux-only")
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB
	target := testutil.Serve(t, func(tc net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(tc)); err != nil {
			return
		}
		io.WriteString(tc, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		tc.Write(body)
	})
	p := quietProxy()
	c := dialThrough(t, p, nil, 30*time.Second, target)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read %d of %d body bytes (%v)", len(got), len(body), err)
	}
	if s := p.spliced.Load(); s == 0 {
		t.Fatal("nothing was spliced: the body took the copying path")
	}
}

// dialThrough serves p in front of target with the idle timeout idle and
// returns a client connection to it, closed and bounded by a 20 s deadline.
func dialThrough(t *testing.T, p *Proxy, log snapshot.EntryLogger, idle time.Duration, target string) net.Conn {
	t.Helper()
	attrs := config.LoadBalancerAttributes{IdleTimeout: idle, ClientKeepAlive: time.Hour}
	c, err := net.Dial("tcp", serve(t, p, testListener(attrs, log, target)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
