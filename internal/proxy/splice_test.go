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
	"github.com/albatross-lb/albatross/internal/splice"
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
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body)
	})}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go target.Serve(tl)
	defer target.Close()

	log := &sentLog{}
	p := quietProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: 30 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, log, tl.Addr().String()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
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
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	release := make(chan struct{})
	defer close(release)
	go func() {
		tc, err := tl.Accept()
		if err != nil {
			return
		}
		defer tc.Close()
		br := bufio.NewReader(tc)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 1<<20)
		tc.Write(bytes.Repeat([]byte("y"), sent))
		<-release // and then nothing more
	}()

	log := &sentLog{}
	const idle = 300 * time.Millisecond
	attrs := config.LoadBalancerAttributes{IdleTimeout: idle, ClientKeepAlive: time.Hour}
	p := quietProxy()
	addr := serve(t, p, testListener(attrs, log, tl.Addr().String()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
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
