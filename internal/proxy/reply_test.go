package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
)

// sentLog keeps the sent_bytes of each finished entry.
type sentLog struct {
	mu   sync.Mutex
	sent []int64
}

func (l *sentLog) Log(e *accesslog.Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, e.SentBytes)
}

func (l *sentLog) entries() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.sent...)
}

// TestDeferredReplyIsLoggedOnceWritten: a response the wait for the next
// request writes (replyThenRead) is logged, with the bytes the client got, as
// soon as it is written, not when the next request comes.
func TestDeferredReplyIsLoggedOnceWritten(t *testing.T) {
	log := &sentLog{}
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, quietProxy(), testListener(attrs, log, startOKTarget(t)))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counter := &countingReader{r: c, touch: func() {}}
	br := bufio.NewReader(counter)
	get(t, c, br)
	waitFor(t, "the access log entry of the only request", func() bool { return len(log.entries()) == 1 })
	if got, want := log.entries()[0], counter.n.Load(); got != want {
		t.Fatalf("sent_bytes %d, but the client received %d bytes", got, want)
	}
}

// TestPipelinedRequestDuringTargetWait: a request the client pipelines while
// the previous one is at its target arrives when the raw reply path cannot see
// it (its readiness was consumed during the target wait). It is served, and
// the connection then stops deferring replies.
func TestPipelinedRequestDuringTargetWait(t *testing.T) {
	received := make(chan struct{}, 1)
	release := make(chan struct{})
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			received <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})

	p := quietProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, discardLog{}, target))

	// The miss depends on the runtime's poller having taken the pipelined
	// bytes' readiness while the first request waited on its target; a
	// wait long enough to start the 460 watcher instead reads those bytes.
	// A few connections give it its chance.
	missed := false
	for attempt := 0; attempt < 5 && !missed; attempt++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		// One request first: a connection that has carried a single one
		// parks after parkFirstAfter, before replyWait, and the parker
		// then finds the pipelined bytes; after two it waits replyWait.
		get(t, c, br)
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		<-received
		io.WriteString(c, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
		var pc *conn
		p.mu.Lock()
		for k := range p.conns {
			pc = k
		}
		p.mu.Unlock()
		release <- struct{}{}
		for i := 0; i < 2; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i+1, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("response %d: %d %q", i+1, resp.StatusCode, body)
			}
		}
		c.Close()
		waitFor(t, "the proxy to close the connection", func() bool { return connCount(p) == 0 })
		missed = pc.pipelines // read after the connection's goroutine ended (p.mu orders it)
	}
	if !missed {
		t.Fatal("no connection noticed the pipelined request the raw reply wait missed")
	}
}

// TestPipelinedFirstRequestServedThroughParking: on a connection's first
// request the wait for the next one ends at parkFirstAfter, before replyWait;
// a request pipelined while the first was at its target is then found by the
// parker (its bytes are already in the socket) and served.
func TestPipelinedFirstRequestServedThroughParking(t *testing.T) {
	received := make(chan struct{}, 1)
	release := make(chan struct{})
	target := startTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			received <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	p := quietProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: 60 * time.Second, ClientKeepAlive: time.Hour}
	addr := serve(t, p, testListener(attrs, discardLog{}, target))
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		<-received
		io.WriteString(c, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
		release <- struct{}{}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for i := 0; i < 2; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i+1, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("response %d: %d %q", i+1, resp.StatusCode, body)
			}
		}
		c.Close()
	}
}
