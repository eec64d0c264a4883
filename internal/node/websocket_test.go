package node_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// countingConn counts the bytes a client sends and receives on the wire.
type countingConn struct {
	net.Conn
	in, out atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// startEchoTarget starts a WebSocket echo server (golang.org/x/net/websocket)
// that also reports the X-Forwarded-Proto it saw.
func startEchoTarget(t *testing.T) *httpTarget {
	t.Helper()
	echo := websocket.Handler(func(ws *websocket.Conn) { io.Copy(ws, ws) })
	return startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { echo.ServeHTTP(w, r) })
}

// wsExchange opens a WebSocket through the load balancer at addr over conn,
// echoes messages and closes the TCP connection without a close frame, and
// returns the bytes the client sent and received.
func wsExchange(t *testing.T, nc net.Conn, scheme, addr string, messages []string) (sent, received int64) {
	t.Helper()
	cc := &countingConn{Conn: nc}
	cfg, err := websocket.NewConfig(scheme+"://"+addr+"/chat", "http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, cc)
	if err != nil {
		t.Fatalf("WebSocket handshake through the load balancer: %v", err)
	}
	for _, m := range messages {
		if _, err := ws.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(m))
		if _, err := io.ReadFull(ws, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != m {
			t.Fatalf("echo %q, want %q", buf, m)
		}
	}
	nc.Close()
	return cc.out.Load(), cc.in.Load()
}

func TestWebSocketTunnel(t *testing.T) {
	target := startEchoTarget(t)
	f := startLB(t, []string{target.addr}, 60, nil)
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	sent, received := wsExchange(t, nc, "ws", f.addr, []string{"hello", strings.Repeat("x", 300)})
	e := f.logLines(1)[0]
	if e.Type != "ws" || e.ELBStatusCode != 101 || e.TargetStatusCode != 101 || !strings.HasPrefix(string(e.Request), "GET http://") {
		t.Errorf("log: type %q status %d/%d request %q", e.Type, e.ELBStatusCode, e.TargetStatusCode, e.Request)
	}
	if e.ReceivedBytes != sent || e.SentBytes != received {
		t.Errorf("logged received/sent %d/%d, client sent/received %d/%d", e.ReceivedBytes, e.SentBytes, sent, received)
	}
	if !e.Time.After(e.RequestCreationTime) {
		t.Errorf("time %v not after request creation %v", e.Time, e.RequestCreationTime)
	}
	r := target.requests()[0]
	if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("target saw Upgrade %q XFP %q", r.Header.Get("Upgrade"), r.Header.Get("X-Forwarded-Proto"))
	}
}

func TestWebSocketOverTLS(t *testing.T) {
	target := startEchoTarget(t)
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	nc, err := tls.Dial("tcp", f.addr, &tls.Config{InsecureSkipVerify: true, ServerName: "a.example.com", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	wsExchange(t, nc, "wss", f.addr, []string{"secure"})
	e := f.logLines(1)[0]
	if e.Type != "wss" || e.ELBStatusCode != 101 || e.DomainName != "a.example.com" || e.SSLProtocol != "TLSv1.3" {
		t.Errorf("log: type %q status %d domain %q protocol %q", e.Type, e.ELBStatusCode, e.DomainName, e.SSLProtocol)
	}
}

// The idle timeout applies to the tunnel: traffic in either direction keeps
// it open; silence for the idle timeout closes it.
func TestWebSocketIdleTimeout(t *testing.T) {
	target := startEchoTarget(t)
	f := startLB(t, []string{target.addr}, 1, nil)
	cfg, _ := websocket.NewConfig("ws://"+f.addr+"/", "http://"+f.addr)
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// Messages every 300 ms for 2 s: longer than the idle timeout in all.
	for range 7 {
		if _, err := ws.Write([]byte("ping")); err != nil {
			t.Fatalf("tunnel closed while active: %v", err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(ws, buf); err != nil {
			t.Fatalf("tunnel closed while active: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // traffic pattern, not synchronisation
	}
	// Then silence: the load balancer closes the tunnel.
	start := time.Now()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = ws.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read data from an idle tunnel")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the load balancer did not close an idle tunnel within 10 s")
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("tunnel closed after %v of silence, before the 1 s idle timeout", waited)
	}
	if e := f.logLines(1)[0]; e.Type != "ws" || e.ELBStatusCode != 101 {
		t.Errorf("log: %q %d", e.Type, e.ELBStatusCode)
	}
}
