package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/sendrecv"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// replyLog records each access log entry's sent bytes and whether it was
// logged by the deferred reply path, that is from inside the raw wait that
// wrote the response (conn.replySent).
type replyLog struct {
	mu       sync.Mutex
	sent     []int64
	deferred []bool
}

func (l *replyLog) Log(e *accesslog.Entry) {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	deferred := false
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "proxy.(*conn).replySent") {
			deferred = true
		}
		if !more {
			break
		}
	}
	l.mu.Lock()
	l.sent = append(l.sent, e.SentBytes)
	l.deferred = append(l.deferred, deferred)
	l.mu.Unlock()
}

func (l *replyLog) entries() ([]int64, []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.sent...), append([]bool(nil), l.deferred...)
}

// TestTLSKeepAliveReplyIsDeferred checks that on a kept-alive TLS connection
// carrying HTTP/1.1, a whole response is written by the wait for the next
// request, as on a plain connection (the first request's is not: the
// handshake's records came before it), that the access log counts the
// response's bytes rather than its TLS records', and that requests pipelined
// in one record, or split over two, are still all answered.
func TestTLSKeepAliveReplyIsDeferred(t *testing.T) {
	if !deferredRepliesSupported() {
		t.Skip("the deferred reply needs the raw socket calls of Linux")
	}
	log := &replyLog{}
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, quietProxy(), withTLS(t, testListener(attrs, log, fixedTarget(t)), false))
	c := dialTLS(t, addr, "http/1.1")
	br := bufio.NewReader(c)
	req := "GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n"
	read := func(n int) int {
		t.Helper()
		total := 0
		for range n {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(body, bytes.Repeat([]byte("x"), 64)) {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			total++
		}
		return total
	}
	const sequential = 5
	for range sequential {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		read(1)
	}
	waitFor(t, "5 access log entries", func() bool { s, _ := log.entries(); return len(s) == sequential })
	sent, deferred := log.entries()
	for i := 1; i < sequential; i++ {
		if !deferred[i] {
			t.Errorf("request %d of %d: response not written by the wait for the next request (deferred: %v)", i+1, sequential, deferred)
		}
	}
	for i, n := range sent[1:] {
		if n != sent[0] {
			t.Errorf("request %d: sent_bytes %d, the first (written the ordinary way) %d", i+2, n, sent[0])
		}
	}

	// Three requests in one record, then one split over two records.
	if _, err := io.WriteString(c, req+req+req); err != nil {
		t.Fatal(err)
	}
	read(3)
	if _, err := io.WriteString(c, req[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, req[10:]); err != nil {
		t.Fatal(err)
	}
	read(1)
	waitFor(t, "9 access log entries", func() bool { s, _ := log.entries(); return len(s) == sequential+4 })
	sent, _ = log.entries()
	for i, n := range sent {
		if n != sent[0] {
			t.Errorf("request %d: sent_bytes %d, want %d", i+1, n, sent[0])
		}
	}
}

// deferredRepliesSupported is whether this platform has the raw socket calls
// and the poller the deferred reply path needs (sendrecv, park_linux.go).
func deferredRepliesSupported() bool { return runtime.GOOS == "linux" }

// TestTLSSocketUsesRawCalls checks that crypto/tls's reads and writes of a
// client's TCP socket go through the raw calls (sendrecv.Stream), which keep
// the runtime's monitor thread asleep between bursts of HTTP/2 traffic, and
// that their errors are a TCPConn's: io.EOF at the client's FIN, a timeout
// crypto/tls may read past, and net.ErrClosed once the socket is closed.
func TestTLSSocketUsesRawCalls(t *testing.T) {
	if !sendrecv.Supported {
		t.Skip("no raw socket calls on this platform")
	}
	kp := selfSigned(t, "raw.example")
	c, peer := testutil.TCPPair(t)
	sock := new(tlsSocket)
	sock.setConn(c)
	if sock.raw == nil {
		t.Fatal("a TCP connection's tlsSocket has no raw path")
	}
	srv := tls.Server(sock, &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS13})
	cli := tls.Client(peer, &tls.Config{InsecureSkipVerify: true, ServerName: "raw.example", MinVersion: tls.VersionTLS13})
	defer cli.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	peer.SetDeadline(time.Now().Add(time.Minute))
	echoed := make(chan error, 1)
	go func() {
		if _, err := cli.Write([]byte("ping")); err != nil {
			echoed <- err
			return
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(cli, buf)
		if err == nil && string(buf) != "pong" {
			err = fmt.Errorf("client read %q, want pong", buf)
		}
		echoed <- err
	}()
	buf := make([]byte, 16)
	n, err := srv.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("server read %q, %v; want ping", buf[:n], err)
	}
	if _, err := srv.Write([]byte("pong")); err != nil {
		t.Fatalf("server write: %v", err)
	}
	if err := <-echoed; err != nil {
		t.Fatalf("client: %v", err)
	}
	if reads, writes := sock.io.Calls(); reads == 0 || writes == 0 {
		t.Fatalf("raw calls: %d reads, %d writes; want both (the handshake and the data went around them)", reads, writes)
	}

	// A read deadline is a timeout that does not break the TLS connection.
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	var ne net.Error
	if _, err := srv.Read(buf); !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v; want a net.Error timeout", err)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute))
	go cli.Write([]byte("again"))
	if n, err := srv.Read(buf); err != nil || string(buf[:n]) != "again" {
		t.Fatalf("read after a timeout: %q, %v; want again", buf[:n], err)
	}

	// The client's FIN (after its close_notify) ends reads with io.EOF.
	cli.Close()
	for i := 0; ; i++ {
		_, err := srv.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil || i > 10 {
			t.Fatalf("read after the client closed: %v; want io.EOF", err)
		}
	}
	if _, err := sock.Read(buf); err != io.EOF {
		t.Fatalf("socket read after the client's FIN: %v; want io.EOF", err)
	}
	c.Close()
	if _, err := sock.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed socket: %v; want net.ErrClosed", err)
	}
	if _, err := sock.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write to a closed socket: %v; want net.ErrClosed", err)
	}
}
