package proxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// WebSockets (spec §8.4, §6.4): an HTTP/1.1 GET with "Connection: Upgrade" and
// "Upgrade: websocket" is forwarded with those headers; when the target answers
// 101 the client connection and the target connection become a byte tunnel
// until either side closes it or no byte crosses it, in either direction, for
// the idle timeout. The request's access log line (type ws or wss, status 101)
// is written when the tunnel closes, with the bytes of the whole connection.

// isWebSocketUpgrade reports whether req asks to switch to WebSocket.
func isWebSocketUpgrade(req *http1.Request) bool {
	if string(req.Method) != "GET" || req.Major != 1 || req.Minor != 1 {
		return false
	}
	up := req.Header("Upgrade")
	if up == nil || !http1.HasToken(up, []byte("websocket")) {
		return false
	}
	for _, h := range req.Headers {
		if http1.EqualFold(h.Name, "Connection") && http1.HasToken(h.Value, []byte("upgrade")) {
			return true
		}
	}
	return false
}

// appendUpgradeHeaders appends the headers that ask the target to switch to
// WebSocket, for a request that asked the load balancer to.
func (c *conn) appendUpgradeHeaders(b []byte) []byte {
	if !c.upgrade {
		return b
	}
	b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
	b = append(b, c.req.Header("Upgrade")...)
	return append(b, "\r\n"...)
}

// tunnel relays the target's 101 response to the client and then copies bytes
// both ways until the tunnel ends. It logs the request and reports false: the
// client connection is done.
func (c *conn) tunnel(l *snapshot.Listener, uc *upstream.Conn, headAt time.Time) bool {
	idle := l.LB.Attrs.IdleTimeout
	c.e.Type = "ws"
	if c.tls != nil {
		c.e.Type = "wss"
	}
	c.e.ELBStatusCode = 101
	// The target's 101 head goes to the client as sent, with whatever bytes
	// followed it.
	head := uc.Buf[uc.R:uc.W]
	uc.R = uc.W
	c.e.ResponseProcessingTime = time.Since(headAt)
	if !c.writeClient(idle, head) {
		uc.Discard()
		c.finish(l.LB)
		return false
	}

	var last atomic.Int64 // unix nanoseconds of the last byte either way
	last.Store(time.Now().UnixNano())
	var toTarget, toClient atomic.Int64
	// Bytes the client sent behind its request head belong to the tunnel.
	if c.r < c.w {
		uc.SetWriteDeadline(time.Now().Add(idle))
		n, err := uc.Write(c.buf[c.r:c.w])
		toTarget.Add(int64(n))
		c.r = c.w
		if err != nil {
			uc.Discard()
			c.e.ReceivedBytes += toTarget.Load()
			c.finish(l.LB)
			return false
		}
	}
	var wg sync.WaitGroup
	var ended atomic.Bool
	stop := func() {
		ended.Store(true)
		c.nc.SetDeadline(aLongTimeAgo)
		uc.SetDeadline(aLongTimeAgo)
	}
	var once sync.Once
	pump := func(dst, src net.Conn, count *atomic.Int64) {
		defer wg.Done()
		defer once.Do(stop)
		buf := make([]byte, 16<<10)
		for {
			src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
			if ended.Load() {
				// stop ran: its past deadline may have been overwritten
				// just now.
				return
			}
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				dst.SetWriteDeadline(time.Now().Add(idle))
				m, werr := dst.Write(buf[:n])
				count.Add(int64(m))
				if werr != nil {
					return
				}
				last.Store(time.Now().UnixNano())
			}
			if err != nil {
				if isTimeout(err) && !ended.Load() && time.Since(time.Unix(0, last.Load())) < idle {
					continue // the other direction carried bytes meanwhile
				}
				return // EOF, reset, idle timeout, or the other side ended
			}
		}
	}
	wg.Add(2)
	go pump(uc, c.nc, &toTarget)
	go pump(c.nc, uc, &toClient)
	wg.Wait()
	uc.Discard()
	c.e.ReceivedBytes += toTarget.Load()
	c.e.SentBytes += toClient.Load()
	c.finish(l.LB)
	return false
}
