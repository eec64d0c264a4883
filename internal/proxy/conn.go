package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/sendrecv"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/splice"
	"github.com/albatross-lb/albatross/internal/tlsconf"
	"github.com/albatross-lb/albatross/internal/upstream"
)

const (
	// initialBufSize is a client connection's read buffer to start with; it grows
	// up to the request head limit only for requests that need it.
	initialBufSize = 4 << 10
	// maxBufSize leaves room for a maximal head plus pipelined bytes behind it.
	maxBufSize = http1.MaxRequestHead + 4<<10
	// inlineBody is how many body bytes may ride in the same write as a head.
	inlineBody = 16 << 10
	// copyBufSize is the buffer used to stream large bodies.
	copyBufSize = 32 << 10
	// maxXFFAddresses is ALB's limit on X-Forwarded-For entries (463 above it).
	maxXFFAddresses = 30
	// watchAfter is how long a request waits for its response head before
	// a goroutine starts watching for the client leaving (460).
	watchAfter = 50 * time.Millisecond
	// parkAfter is how long a connection waits for its next request with a
	// goroutine and buffers before it parks. Busy keep-alive connections never
	// wait this long, so they never pay for parking.
	parkAfter = 200 * time.Millisecond
	// replyWait bounds how long a connection waits for its next request
	// after a reply written by the raw path (replyThenRead) before it reads
	// in the ordinary way, which finds bytes whose readiness that path
	// missed: only those of a request pipelined while the previous one was
	// at its target.
	replyWait = 50 * time.Millisecond
	// parkFirstAfter replaces parkAfter while a connection has carried at
	// most one request: a client that keeps a connection busy sends its
	// second request within milliseconds, while a pool of connections opened
	// ahead of need (or a flood of them) would otherwise hold a goroutine and
	// buffers each for parkAfter, which is what their memory peaks at.
	parkFirstAfter = 10 * time.Millisecond
)

// Connection states, for graceful shutdown.
const (
	stateActive int32 = iota
	stateIdle
)

// Outcomes of waiting for a request head that are not protocol errors.
var (
	// errNoRequest: the connection ended or timed out before any byte of a
	// request; ALB closes such a connection silently, with no log line.
	errNoRequest = errors.New("no request")
	// errHeadTimeout: the idle timeout expired with part of a head received (408).
	errHeadTimeout = errors.New("request head not completed within the idle timeout")
	// errHeadClosed: the client closed the connection in the middle of a head.
	errHeadClosed = errors.New("client closed the connection during the request head")
)

// conn is one client connection. Its request scratch space (work) is held only
// while the connection is active: an idle connection that has been parked holds
// neither a goroutine nor buffers (see park.go).
type conn struct {
	p      *Proxy
	nc     net.Conn
	ln     *atomic.Pointer[snapshot.Listener]
	client netip.AddrPort
	start  time.Time
	tid    string

	// *work is the scratch space of the request in progress; nil while parked.
	*work

	// The fields below are ordered so that the struct packs into 256 bytes:
	// it is most of what a parked connection costs.
	state atomic.Int32
	gone  atomic.Bool // see watchDone
	// idleSince is when the connection began waiting for its next request.
	idleSince time.Time
	// parkDeadline is when a parked connection's idle timeout expires.
	parkDeadline time.Time
	// parkToken is the connection's key in the parker's table, and
	// parkSlot its place in the parker's deadline heap, while it is parked.
	parkToken uint64
	parkSlot  int32
	// parkFD is the socket's descriptor while the connection is parked
	// detached (nc nil), else -1. nc changes only under p.mu, where other
	// goroutines read it.
	parkFD int32
	// parkedTLS is a TLS connection's tls.Conn while it is parked detached
	// (its tlsSocket then has no net.Conn under it), else nil.
	parkedTLS *tls.Conn
	// parkable is whether the connection can wait for its next request without
	// a goroutine: a TCP connection (plain, or TLS carrying HTTP/1.1 once its
	// handshake is done) on a platform with a poller.
	parkable bool
	// parkRegistered is whether the poller knows the connection's socket
	// (a connection parked attached).
	parkRegistered bool
	// wantPark is set when the connection has waited parkAfter for a request
	// and should park rather than go on waiting.
	wantPark bool
	// requests counts the request heads the connection has received
	// (saturating), for parkFirstAfter.
	requests uint8
	// pipelines is set once the client has been seen to send a request
	// before its previous response was written, which the wait for the next
	// request after a deferred reply can miss (work.reply).
	pipelines bool
	// wokeSoon is set when the connection's last parking ended less than
	// detachAfter after it became idle: its next parking keeps the net.Conn.
	wokeSoon bool

	// pollRaw is the TCP socket (under TLS, if any) for parking and the
	// deferred reply.
	pollRaw syscall.RawConn

	// watchDone is the 460 watcher's signal that it has stopped; made by
	// the first request that needs a watcher, since most never do. gone is
	// set by the watcher when the client has left.
	watchDone chan struct{}

	// tls describes the TLS connection the requests arrive on (nil for HTTP
	// listeners); h2 is the HTTP/2 stream a conn of one request stands for
	// (nil for HTTP/1.x). See tls.go and h2.go.
	tls *tlsconf.ConnInfo
	h2  *streamConn
	// h2Shutdown starts a graceful shutdown (GOAWAY) of an HTTP/2 client
	// connection; set and read under p.mu.
	h2Shutdown func()
	// lbMetrics counts the connection (opened, closed) for the load balancer it
	// arrived on, as compiled when it arrived; the counters outlive reloads
	// that keep the load balancer.
	lbMetrics *metrics.LoadBalancer
}

// work is what a connection needs while it serves requests: the read buffer,
// the parsed heads, the access log entry and scratch buffers. Connections take
// one from the proxy's pool when they become active and return it when they
// park, so idle connections cost no buffer memory.
type work struct {
	// buf[r:w] holds bytes read from the client and not yet consumed.
	buf  []byte
	r, w int

	req  http1.Request
	resp http1.Response
	e    accesslog.Entry
	// reqStart is when the first byte of the current request arrived.
	reqStart time.Time

	// Per-request scratch buffers, reused across requests.
	logReq  []byte // access log field 13
	ua      []byte // access log field 14
	trace   []byte // X-Amzn-Trace-Id as forwarded, field 18
	out     []byte // outgoing heads
	chunks  http1.ChunkedScanner
	copyBuf *[]byte
	// sealed holds the TLS records of a deferred reply, tlsIn what the
	// wait after it reads from a TLS socket (tlsreply.go).
	sealed, tlsIn []byte
	// rt is routing's scratch space (rules, stickiness cookies, redirects).
	rt routing

	// isHead is whether the request in flight is a HEAD (its response has no
	// body); kept apart because the request head's bytes are reused once sent.
	isHead bool

	// The 460 watcher: while a request waits on its target, a goroutine reads
	// the client connection to notice it closing.
	watching bool

	// closeTarget is set for a request forwarded although Ambiguous in
	// defensive mode: its target connection is closed, not reused.
	closeTarget bool

	// upgrade is whether the request in flight asks for a WebSocket tunnel
	// (websocket.go).
	upgrade bool

	// reply is a response ready in out and not yet written; replyLB the
	// load balancer whose access log and metrics take its entry once it is.
	// The wait for the next request writes it with replyOp (replyThenRead),
	// saving the read that would find nothing, and logs it (replySent).
	// raw is the client's socket for replyOp and splicing (rawConn). They
	// are here rather than in conn so that a parked connection does not
	// carry them; putWork clears them, since they belong to one connection.
	// replyText is the length of the deferred response before encryption
	// (the access log's sent bytes); over TLS, reply holds its records.
	// sock is a TLS connection's socket as crypto/tls sees it, when its
	// HTTP/1.1 replies may be deferred (tlsreply.go); getWork sets it.
	reply     []byte
	replyText int
	replyLB   *snapshot.LoadBalancer
	replyOp   sendrecv.Op
	raw       syscall.RawConn
	sock      *tlsSocket
}

func newConn(p *Proxy, nc net.Conn, ln *atomic.Pointer[snapshot.Listener]) *conn {
	c := &conn{
		p:      p,
		nc:     nc,
		ln:     ln,
		client: addrPortOf(nc.RemoteAddr()),
		start:  time.Now(),
		work:   p.getWork(),
		parkFD: -1,
	}
	_, c.parkable = nc.(*net.TCPConn)
	c.parkable = c.parkable && p.parker != nil
	c.tid = newConnTraceID()
	return c
}

// wakeIfIdle interrupts a connection waiting for its next request so that it
// notices the shutdown. It is called with p.mu held; a connection parked
// detached has no net.Conn, and its parker closes it.
func (c *conn) wakeIfIdle() {
	if c.state.Load() == stateIdle && c.nc != nil {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// serve serves requests until the connection closes or parks. A parked
// connection has no goroutine: the parker calls resume on a new one when the
// next request's bytes arrive.
func (c *conn) serve() {
	defer c.recoverPanic()
	for {
		for c.serveRequest() {
			c.shrink()
		}
		if !c.wantPark {
			break
		}
		c.wantPark = false
		if c.reply != nil {
			// A response not yet written (never the case once idle long
			// enough to park): go on waiting with it.
			c.parkable = false
			continue
		}
		c.p.putWork(c.work)
		c.work = nil
		if c.p.parker.park(c) {
			return
		}
		if c.stopping() {
			break
		}
		// The poller refused the connection: wait with a goroutine instead.
		c.parkable = false
		c.takeWork()
	}
	c.close()
}

// takeWork gives the connection scratch space from the pool, with the socket
// of a TLS connection whose HTTP/1.1 replies may be deferred (tls.go sets it
// at the handshake).
func (c *conn) takeWork() {
	c.work = c.p.getWork()
	if c.tls != nil && c.tls.ALPN != "h2" {
		if tc, ok := c.nc.(*tls.Conn); ok {
			c.sock, _ = tc.NetConn().(*tlsSocket)
		}
	}
}

// recoverPanic ends a connection whose request handling panicked, so that a
// bug one request reaches costs that connection, not the whole node.
func (c *conn) recoverPanic() {
	r := recover()
	if r == nil {
		return
	}
	c.p.log.Error("panic serving a client connection; connection closed",
		"client", c.client.String(), "panic", r, "stack", string(debug.Stack()))
	c.work = nil // possibly half-updated: not returned to the pool
	c.close()
}

// resume continues a parked connection whose client has sent bytes (or closed).
func (c *conn) resume() {
	if c.nc == nil {
		if err := c.attach(); err != nil {
			c.p.log.Warn("closing an idle connection that could not resume", "client", c.client.String(), "err", err)
			c.close()
			return
		}
	}
	c.takeWork()
	c.serve()
}

// close closes the connection and forgets it.
func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
	} else {
		c.closeDetached()
	}
	c.lbMetrics.ConnClosed()
	if c.work != nil {
		c.p.putWork(c.work)
		c.work = nil
	}
	c.p.forget(c)
}

// maxKeptHeaders bounds the header slices a connection keeps between requests:
// a 64 K head can hold thousands of tiny fields, and an idle connection should
// not pin what one such request grew.
const maxKeptHeaders = 128

// shrink drops buffers an unusual request grew, so that an idle connection
// holds only its initial buffer.
func (c *conn) shrink() {
	if cap(c.req.Headers) > maxKeptHeaders {
		c.req.Headers = nil
	}
	if cap(c.resp.Headers) > maxKeptHeaders {
		c.resp.Headers = nil
	}
	if len(c.buf) > initialBufSize && c.r == c.w {
		c.buf = make([]byte, initialBufSize)
		c.r, c.w = 0, 0
	}
	if c.copyBuf != nil {
		c.p.bufs.Put(c.copyBuf)
		c.copyBuf = nil
	}
	c.rt.shrink()
}

// serveRequest handles one request on the connection and reports whether the
// connection may carry another. The steps, in order:
//
//  1. wait for a complete request head (idle timeout: close, or 408 if part of
//     a request arrived); a malformed head is a 400 (501/505 where ALB says so)
//  2. check what ALB checks before routing: desync classification and the
//     mitigation mode (desync.go), Host on HTTP/1.1, TRACE
//  3. route: the first of the listener's rules that matches, else its default
//     action; redirect and fixed-response actions answer here
//  4. forward: pick a target group and a target (stickiness, then the
//     group's algorithm), answer Expect: 100-continue, get a connection,
//     send the head and stream the body, wait for the response head while
//     watching for the client to leave (460), stream the response back
//  5. write the access log line
func (c *conn) serveRequest() bool {
	// 1. The request head. The configuration in force when it has arrived
	// serves it; a connection waiting when a reload happens gets the new one.
	err := c.readHead(c.ln.Load().LB.Attrs.IdleTimeout)
	l := c.ln.Load()
	lb := l.LB
	c.resetEntry(l)
	c.e.RequestCreationTime = c.reqStart
	if err != nil {
		if errors.Is(err, errNoRequest) {
			return false
		}
		// What arrived of the head that failed.
		c.e.ReceivedBytes = int64(c.w - c.r)
		switch {
		case errors.Is(err, errHeadTimeout):
			return c.answer(l, 408, true)
		case errors.Is(err, errHeadClosed):
			c.e.ELBStatusCode = 400
			c.finish(lb)
			return false
		}
		status := 400
		var perr *http1.Error
		if errors.As(err, &perr) {
			status = perr.Status
			if perr.Complete {
				status = c.classifyFramingError(l, perr)
			} else {
				c.classifyRefused()
			}
		}
		return c.answer(l, status, true)
	}
	req := &c.req
	if c.requests < math.MaxUint8 {
		c.requests++
	}
	c.e.ReceivedBytes = int64(req.HeadLen)
	c.recordRequest(l)
	c.r += req.HeadLen

	// 2. Checks before routing.
	hasBody := req.Body == http1.BodyChunked || (req.Body == http1.BodyLength && req.ContentLength > 0)
	if c.mitigate(l) {
		return c.answer(l, 400, true)
	}
	if req.Major == 0 || (req.Minor >= 1 && req.HostCount == 0) {
		// HTTP/1.1 requires Host; ALB answers 400 and closes. HTTP/0.9 has no
		// way to carry the response framing Albatross needs.
		return c.answer(l, 400, true)
	}
	if string(req.Method) == "TRACE" {
		return c.answer(l, 405, hasBody)
	}
	c.noteInvalidHeaders(l)

	// 3. Routing.
	act := c.route(l)
	if countXFF(req) > maxXFFAddresses {
		return c.answer(l, 463, hasBody)
	}
	if l.Callbacks != nil && c.isCallback() {
		return c.authCallback(l, hasBody)
	}
	if act.Auth != nil {
		if answered, keep := c.authenticate(l, act, hasBody); answered {
			return keep
		}
	}
	switch act.Type {
	case config.ActionRedirect:
		return c.redirect(l, act, hasBody)
	case config.ActionFixedResponse:
		return c.fixedResponse(l, act, hasBody)
	}

	// 4. Forwarding, after the rule's transforms.
	if act.Transforms != nil && !c.transform(act.Transforms) {
		return c.answer(l, 500, hasBody)
	}
	t := c.pickTarget(l, act, c.reqStart)
	if t == nil {
		return c.answer(l, 503, hasBody)
	}
	c.e.Target = t.Addr
	// In flight on the target (least outstanding requests, draining) until
	// the response is relayed or the request fails.
	t.Health.Begin()
	defer t.Health.End()
	keep := c.forward(l, t)
	if t.Mitigation && t.Health != nil {
		t.Health.ObserveOutcome(targetFailed(c.e.TargetStatusCode, c.e.ELBStatusCode), time.Now())
	}
	return keep
}

// targetFailed is anomaly mitigation's evidence against a target: a 5xx it
// answered itself (503 included: a target that sheds load is failing its
// requests), or, when it answered nothing, the load balancer's 502 or 504 for
// it (it reset, closed or timed out). A 460 (the client left) and a 503 of the
// load balancer's own say nothing about the target.
func targetFailed(targetStatus, elbStatus int) bool {
	if targetStatus != 0 {
		return targetStatus >= 500
	}
	return elbStatus == 502 || elbStatus == 504
}

// resetEntry prepares the access log entry for a new request on listener l.
func (c *conn) resetEntry(l *snapshot.Listener) {
	attempts := c.e.Attempts[:0]
	c.e = accesslog.Entry{
		Type:                   l.Scheme,
		ELB:                    l.LB.ResourceID,
		Client:                 c.client,
		RequestProcessingTime:  -1,
		TargetProcessingTime:   -1,
		ResponseProcessingTime: -1,
		MatchedRulePriority:    accesslog.PriorityNone,
		ConnTraceID:            c.tid,
		Attempts:               attempts,
	}
	if c.tls != nil {
		c.setTLSFields()
	}
}

// readHead reads until c.buf[c.r:c.w] starts with a complete request head and
// parses it into c.req.
func (c *conn) readHead(idle time.Duration) error {
	if c.r < c.w {
		// A pipelined request that arrived with an earlier one: it is
		// received, as far as the log is concerned, when its turn comes.
		c.reqStart = time.Now()
	}
	if c.h2 != nil && c.h2.head == nil && c.r == c.w {
		// An HTTP/2 stream's one request: in memory already.
		if c.stopping() {
			return errNoRequest
		}
		if c.h2.renderHead(c) {
			now := time.Now()
			c.state.Store(stateActive)
			c.reqStart = now
			c.nc.SetReadDeadline(now.Add(idle)) // what the read below would have had
			return nil
		}
		c.h2.headBytes()
	}
	for {
		if c.r < c.w {
			err := http1.ParseRequest(c.buf[c.r:c.w], &c.req)
			if err == nil {
				return nil
			}
			if err != http1.ErrIncomplete {
				return err
			}
		}
		c.makeRoom()
		if c.w == len(c.buf) {
			// The parser enforces the head limits, so a full maximal buffer
			// cannot hold an incomplete head; guard against it anyway.
			return &http1.Error{Status: 400, Reason: "request head too large"}
		}
		empty := c.r == c.w
		now := time.Now()
		deadline := now.Add(idle)
		lingering := false
		if empty {
			// Between requests the idle timeout runs from when the connection
			// became idle, across any parking.
			if c.idleSince.IsZero() {
				c.idleSince = now
			}
			deadline = c.idleSince.Add(idle)
			linger := parkAfter
			if c.requests <= 1 {
				linger = parkFirstAfter
			}
			if c.parkable && deadline.Sub(now) > linger {
				deadline, lingering = now.Add(linger), true
			}
			c.state.Store(stateIdle)
		}
		waitUntil := deadline
		if c.reply != nil && now.Add(replyWait).Before(deadline) {
			waitUntil = now.Add(replyWait)
		}
		c.nc.SetReadDeadline(waitUntil)
		// Checked after the deadline is set, so that a wakeIfIdle racing
		// with this wait is not undone by it.
		if empty && c.stopping() {
			c.flushReply(idle)
			return errNoRequest
		}
		var n int
		var err error
		switch {
		case c.reply != nil && c.sock != nil:
			n, err = c.tlsReplyThenRead(c.buf[c.w:], deadline, waitUntil, idle)
		case c.reply != nil:
			n, err = c.replyThenRead(c.buf[c.w:], deadline, waitUntil, idle)
		default:
			n, err = c.nc.Read(c.buf[c.w:])
		}
		if c.sock != nil {
			c.sock.full = n == len(c.buf)-c.w
		}
		if n > 0 {
			if empty {
				c.state.Store(stateActive)
				if c.h2 != nil {
					// A stream's head is in memory: the read did not wait.
					c.reqStart = now
				} else {
					c.reqStart = time.Now()
				}
				c.idleSince = time.Time{}
			}
			c.w += n
		}
		if err != nil {
			if n > 0 {
				continue // parse what arrived; the error repeats on the next read
			}
			switch {
			case c.r == c.w && lingering && isTimeout(err) && !c.stopping():
				// Idle for a while: wait for the next request without a
				// goroutine or buffers.
				c.wantPark = true
				return errNoRequest
			case c.r == c.w:
				return errNoRequest
			case isTimeout(err) && !c.stopping():
				return errHeadTimeout
			default:
				return errHeadClosed
			}
		}
	}
}

// makeRoom compacts the client buffer and grows it when it is full.
func (c *conn) makeRoom() {
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.r > 0 && c.w == len(c.buf) {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.buf) && len(c.buf) < maxBufSize {
		nb := make([]byte, min(2*len(c.buf), maxBufSize))
		c.w = copy(nb, c.buf[c.r:c.w])
		c.r = 0
		c.buf = nb
	}
}

// recordRequest copies what the access log needs of the request head, which
// lives in the read buffer, into the entry's own buffers.
func (c *conn) recordRequest(l *snapshot.Listener) {
	req := &c.req
	b := c.logReq[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, l.Scheme...)
	b = append(b, "://"...)
	host, _ := splitHostPort(requestHost(req))
	b = append(b, host...)
	b = append(b, ':')
	b = append(b, l.PortText...)
	b = appendOriginForm(b, req.Target)
	b = append(b, ' ')
	if c.h2 != nil {
		b = append(b, "HTTP/2.0"...)
	} else if len(req.Proto) > 0 {
		b = append(b, req.Proto...)
	} else {
		b = append(b, "HTTP/0.9"...)
	}
	c.logReq = b
	c.e.Request = b
	if ua := req.Header("User-Agent"); ua != nil {
		if len(ua) > 8<<10 {
			ua = ua[:8<<10]
		}
		c.ua = append(c.ua[:0], ua...)
		c.e.UserAgent = c.ua
	}
}

// answer sends an ELB-generated response with status code (nothing for 460),
// logs the request and reports whether the connection stays open.
func (c *conn) answer(l *snapshot.Listener, status int, closeConn bool) bool {
	closeConn = closeConn || !c.req.KeepAlive || c.closing(l)
	if status != 460 {
		n, err := c.writeELBResponse(status, closeConn)
		c.e.SentBytes += int64(n)
		if err != nil {
			closeConn = true
		}
	}
	c.e.ELBStatusCode = status
	c.finish(l.LB)
	return !closeConn
}

// closing reports whether the connection must close after the current response:
// the node is shutting down, the listener was deleted, or the client keep-alive
// duration has passed.
func (c *conn) closing(l *snapshot.Listener) bool {
	return c.stopping() || time.Since(c.start) >= l.LB.Attrs.ClientKeepAlive
}

// finish completes the entry and hands it to the access log and the metrics,
// which are both derived from it alone.
func (c *conn) finish(lb *snapshot.LoadBalancer) {
	c.e.Time = time.Now()
	// Metrics first: a request whose log line can be read is already counted.
	lb.Metrics.Observe(&c.e)
	if lb.Log != nil {
		lb.Log.Log(&c.e)
	}
}

// forward sends the request to target t and relays the response.
func (c *conn) forward(l *snapshot.Listener, t *snapshot.Target) bool {
	req := &c.req
	idle := l.LB.Attrs.IdleTimeout
	received := time.Now()
	c.isHead = string(req.Method) == "HEAD" // methods are case-sensitive
	c.upgrade = c.h2 == nil && isWebSocketUpgrade(req)
	if t.H2 != nil || c.h2 != nil {
		// Target protocol versions HTTP2 and GRPC, and gRPC requests.
		if handled, keep := c.forwardVersion(l, t); handled {
			return keep
		}
	}
	hasBody := req.Body == http1.BodyChunked || (req.Body == http1.BodyLength && req.ContentLength > 0)

	if req.ExpectContinue {
		// ALB answers 100 Continue itself and removes Expect (spec §2.1).
		c.nc.SetWriteDeadline(time.Now().Add(idle))
		n, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n")
		c.e.SentBytes += int64(n)
		if err != nil {
			c.e.ELBStatusCode = 460
			c.finish(l.LB)
			return false
		}
	}

	// The head, with as much of the body as is already here and fits. A request
	// that is whole in c.out can be sent again if a target connection fails
	// under it (see retry.go).
	c.out = c.appendRequestHead(c.out[:0], l)
	remaining := req.ContentLength
	if req.Body == http1.BodyLength && remaining > 0 {
		var n int
		c.out, n = appendInline(c.out, c.buf[c.r:c.w], remaining)
		c.r += n
		remaining -= int64(n)
		c.e.ReceivedBytes += int64(n)
	}
	replayable := replayable(req, remaining)

	for attempt := 1; ; attempt++ {
		var uc *upstream.Conn
		var err error
		if attempt == 1 {
			uc, err = t.Pool.Get(context.Background(), replayable)
		} else {
			uc, err = t.Pool.Dial(context.Background()) // a retry rides a new connection
		}
		if err != nil {
			t.Health.ConnectionError()
			var de *upstream.DialError
			if errors.As(err, &de) && de.Timeout {
				return c.answer(l, 504, hasBody)
			}
			return c.answer(l, 502, hasBody)
		}
		c.e.Attempts = append(c.e.Attempts, accesslog.Attempt{Target: t.Addr})
		// The connection is cut if the target's deregistration delay ends
		// while it carries the request; Release clears the tag.
		uc.SetOwner(t.Health.Owner())

		// A request whole in c.out is written by the first read of its
		// response (upstream.Conn.WriteRead); one with more body to stream
		// is written here.
		whole := remaining == 0 && req.Body != http1.BodyChunked
		if !whole {
			uc.SetWriteDeadline(time.Now().Add(idle))
			if _, err := uc.Write(c.out); err != nil {
				// The target closed or reset the connection before taking the request.
				uc.Discard()
				if c.retryAfter(t, err, replayable, attempt) {
					continue
				}
				return c.answer(l, 502, true)
			}
		}
		sent := time.Now()
		c.e.RequestProcessingTime = sent.Sub(received)

		// The rest of the body.
		switch req.Body {
		case http1.BodyLength:
			if remaining > 0 {
				if !c.streamLengthBody(l, uc, remaining) {
					return false
				}
			}
		case http1.BodyChunked:
			if !c.streamChunkedBody(l, uc) {
				return false
			}
		}

		// The response head, watching for the client to leave meanwhile if
		// the target takes a while.
		var send []byte
		if whole {
			send = c.out
		}
		headAt, err := c.readResponseHead(uc, idle, send, sent)
		gone := c.stopWatch()
		if gone {
			uc.Discard()
			c.e.RequestProcessingTime, c.e.TargetProcessingTime = -1, -1
			return c.answer(l, 460, true)
		}
		if err != nil {
			uc.Discard()
			if c.retryAfter(t, err, replayable, attempt) {
				continue
			}
			c.e.RequestProcessingTime, c.e.TargetProcessingTime = -1, -1
			switch {
			case failedWriting(err):
				// The target closed or reset the connection before taking the request.
				return c.answer(l, 502, true)
			case isTimeout(err):
				return c.answer(l, 504, false)
			}
			return c.answer(l, 502, false)
		}
		c.e.TargetProcessingTime = headAt.Sub(sent)
		resp := &c.resp
		uc.NoteKeepAlive(resp.KeepAliveTimeout)
		c.e.TargetStatusCode = resp.Status
		c.e.Attempts[len(c.e.Attempts)-1].Status = resp.Status
		if resp.Status == 101 {
			return c.tunnel(l, uc, headAt)
		}
		return c.relayResponse(l, uc, headAt)
	}
}

// appendInline appends to a head in dst the first bytes of its body that are
// already buffered, as many as the body has left and as fit beside the head, so
// that a small message goes out in one write. It returns how many it took.
func appendInline(dst, buffered []byte, remaining int64) ([]byte, int) {
	n := int(min(remaining, int64(len(buffered)), inlineBody))
	return append(dst, buffered[:n]...), n
}

// streamLengthBody copies the remaining n bytes of a Content-Length body from the
// client to the target.
func (c *conn) streamLengthBody(l *snapshot.Listener, uc *upstream.Conn, n int64) bool {
	idle := l.LB.Attrs.IdleTimeout
	for n > 0 {
		if c.r == c.w {
			if n > copyBufSize {
				if handled, ok := c.spliceRequestBody(l, uc, n); handled {
					return ok
				}
			}
			if !c.fillBody(l, uc) {
				return false
			}
		}
		k := min(n, int64(c.w-c.r))
		uc.SetWriteDeadline(time.Now().Add(idle))
		if _, err := uc.Write(c.buf[c.r : c.r+int(k)]); err != nil {
			uc.Discard()
			return c.answer(l, 502, true)
		}
		c.r += int(k)
		n -= k
		c.e.ReceivedBytes += k
	}
	return true
}

// streamChunkedBody relays a chunked body verbatim from the client to the target.
func (c *conn) streamChunkedBody(l *snapshot.Listener, uc *upstream.Conn) bool {
	idle := l.LB.Attrs.IdleTimeout
	c.chunks.Reset()
	for {
		if c.r == c.w {
			if !c.fillBody(l, uc) {
				return false
			}
		}
		n, done, err := c.chunks.Scan(c.buf[c.r:c.w])
		if err != nil {
			uc.Discard()
			c.e.ReceivedBytes += int64(n)
			return c.answer(l, 400, true)
		}
		if n > 0 {
			uc.SetWriteDeadline(time.Now().Add(idle))
			if _, err := uc.Write(c.buf[c.r : c.r+n]); err != nil {
				uc.Discard()
				return c.answer(l, 502, true)
			}
			c.r += n
			c.e.ReceivedBytes += int64(n)
		}
		if done {
			return true
		}
	}
}

// fillBody reads more request body from the client. On failure it answers the
// request (408 after the idle timeout, a logged 400 when the client closed
// before sending the whole body) and discards the target connection.
func (c *conn) fillBody(l *snapshot.Listener, uc *upstream.Conn) bool {
	c.r, c.w = 0, 0
	c.nc.SetReadDeadline(time.Now().Add(l.LB.Attrs.IdleTimeout))
	n, err := c.nc.Read(c.buf)
	c.w = n
	if n > 0 {
		return true
	}
	return c.clientBodyFailed(l, uc, err)
}

// clientBodyFailed answers a request whose client stopped sending its body
// with err: 408 after the idle timeout, a logged 400 when the client closed
// first. It discards the target connection and returns false.
func (c *conn) clientBodyFailed(l *snapshot.Listener, uc *upstream.Conn, err error) bool {
	uc.Discard()
	c.e.RequestProcessingTime = -1
	if isTimeout(err) && !c.p.shutdown.Load() {
		return c.answer(l, 408, true)
	}
	c.e.ELBStatusCode = 400
	c.finish(l.LB)
	return false
}

// readResponseHead reads and parses the target's response head into c.resp,
// skipping interim 1xx responses. Every byte from the target pushes the idle
// deadline forward.
//
// Most targets answer within watchAfter; a slower one gets the 460 watcher
// (startWatch) from then on, so that fast requests spawn no goroutine.
//
// A non-nil send is the whole request, not yet written: the first read writes
// it (upstream.Conn.WriteRead), and a failure to write it is an error for which
// failedWriting is true.
//
// sent is when the request went (the idle timeout counts from the last byte
// either way); the head's time is when the read that completed it returned.
func (c *conn) readResponseHead(uc *upstream.Conn, idle time.Duration, send []byte, sent time.Time) (time.Time, error) {
	last := sent
	watchAt := last.Add(watchAfter)
	watched := false
	for {
		if uc.R < uc.W {
			method := methodGET
			if c.isHead {
				method = methodHEAD
			}
			err := http1.ParseResponse(uc.Buf[uc.R:uc.W], &c.resp, method)
			if err == nil {
				if c.resp.Status >= 100 && c.resp.Status < 200 {
					if c.resp.Status == 101 && c.upgrade {
						return last, nil
					}
					if c.resp.Status == 101 {
						return last, &http1.Error{Status: 502, Reason: "target switched protocols without being asked"}
					}
					uc.R += c.resp.HeadLen
					continue
				}
				return last, nil
			}
			if err != http1.ErrIncomplete {
				return last, err
			}
		}
		if uc.R == uc.W {
			uc.R, uc.W = 0, 0
		} else if uc.W == len(uc.Buf) {
			if uc.R > 0 {
				uc.W = copy(uc.Buf, uc.Buf[uc.R:uc.W])
				uc.R = 0
			} else {
				nb := make([]byte, min(2*len(uc.Buf), http1.MaxResponseHead+4<<10))
				uc.W = copy(nb, uc.Buf[:uc.W])
				uc.Buf = nb
			}
		}
		deadline := last.Add(idle)
		early := !watched && deadline.After(watchAt)
		if early {
			deadline = watchAt
		}
		uc.SetReadDeadline(deadline)
		if watched && c.gone.Load() {
			// The watcher saw the client leave and cut this read short,
			// possibly before the deadline above replaced its own.
			uc.SetReadDeadline(aLongTimeAgo)
		}
		var n int
		var err error
		if send != nil {
			n, err = uc.WriteRead(send, uc.Buf[uc.W:], idle)
			send = nil
			if failedWriting(err) {
				return last, err
			}
		} else {
			n, err = uc.Read(uc.Buf[uc.W:])
		}
		uc.W += n
		if n > 0 {
			last = time.Now()
		}
		if err != nil && n == 0 {
			if early && isTimeout(err) {
				watched = true
				c.startWatch(uc)
				continue
			}
			// An *upstream.AttemptError: the retry decision reads its facts.
			return last, err
		}
	}
}

// relayResponse sends the response head and body from the target to the client.
func (c *conn) relayResponse(l *snapshot.Listener, uc *upstream.Conn, headAt time.Time) bool {
	req, resp := &c.req, &c.resp
	idle := l.LB.Attrs.IdleTimeout
	keep := req.KeepAlive && resp.Body != http1.BodyUntilClose && !c.closing(l)

	c.out = appendResponseHead(c.out[:0], resp, keep, req.Minor == 0, &l.Headers)
	c.out = c.appendStickinessHeaders(c.out[:len(c.out)-2], l, resp)
	c.out = append(c.out, "\r\n"...)
	uc.R += resp.HeadLen
	remaining := resp.ContentLength
	if resp.Body == http1.BodyLength && remaining > 0 {
		var n int
		c.out, n = appendInline(c.out, uc.Buf[uc.R:uc.W], remaining)
		uc.R += n
		remaining -= int64(n)
	}
	c.e.ResponseProcessingTime = time.Since(headAt)
	c.e.ELBStatusCode = resp.Status
	whole := resp.Body == http1.BodyNone || (resp.Body == http1.BodyLength && remaining == 0)
	if whole && keep && c.mayDeferReply() {
		// The whole response is in c.out: the wait for the next request
		// writes it and then logs it.
		c.doneWithTarget(uc, true)
		if c.sock != nil {
			if err := c.sealReply(c.out); err != nil {
				c.reply = nil
				c.finish(l.LB)
				return false
			}
		} else {
			c.reply, c.replyText = c.out, len(c.out)
		}
		c.replyLB = l.LB
		return true
	}
	if !c.writeClient(idle, c.out) {
		uc.Discard()
		c.finish(l.LB)
		return false
	}

	var ok bool
	switch resp.Body {
	case http1.BodyNone:
		ok = true
	case http1.BodyLength:
		ok = c.relayLength(uc, idle, remaining)
	case http1.BodyChunked:
		ok = c.relayChunked(uc, idle)
	case http1.BodyUntilClose:
		c.relayUntilClose(uc, idle)
		keep, ok = false, false
	}
	c.doneWithTarget(uc, ok)
	c.finish(l.LB)
	return ok && keep
}

// doneWithTarget returns the target connection to its pool when the response
// was relayed whole (ok) and the target keeps the connection open, and closes
// it otherwise.
func (c *conn) doneWithTarget(uc *upstream.Conn, ok bool) {
	if ok && c.resp.KeepAlive && !c.closeTarget {
		uc.Release()
	} else {
		uc.Discard()
	}
}

// mayDeferReply reports whether a response may be left for the wait for the
// next request to write: the client connection is a TCP socket, plain or
// under TLS carrying HTTP/1.1, with nothing of a next request buffered, and
// has not been seen to pipeline.
func (c *conn) mayDeferReply() bool {
	if !sendrecv.Supported || !c.parkable || c.pipelines || c.r != c.w {
		return false
	}
	if c.sock != nil {
		return c.mayDeferTLSReply()
	}
	if c.tls != nil {
		return false
	}
	if c.rawConn() == nil {
		return false
	}
	if c.replyOp.AfterSend == nil {
		c.replyOp.AfterSend = c.replySent
	}
	return true
}

// pollConn returns the client's TCP socket for the parker's poller: the
// connection's own, or the one under its TLS layer.
func (c *conn) pollConn() syscall.RawConn {
	if c.pollRaw == nil {
		if sc, _ := c.tcpSocket(); sc != nil {
			c.pollRaw, _ = sc.SyscallConn()
		}
	}
	return c.pollRaw
}

// tcpSocket returns the client's TCP socket, under its TLS layer if it has
// one, and then the tlsSocket between the two (serveTLS puts one under every
// tls.Conn); nil when the connection is not a TCP one.
func (c *conn) tcpSocket() (plainSocket, *tlsSocket) {
	nc := c.nc
	var s *tlsSocket
	if tc, ok := nc.(*tls.Conn); ok {
		if s, _ = tc.NetConn().(*tlsSocket); s == nil {
			return nil, nil
		}
		nc = s.Conn
	}
	sc, _ := nc.(plainSocket)
	return sc, s
}

// rawConn returns the client's socket for raw calls (parking, the raw reply
// path, splicing), or nil when the connection is not a plain TCP one.
func (c *conn) rawConn() syscall.RawConn {
	if c.raw == nil {
		if sc, ok := c.nc.(plainSocket); ok {
			c.raw, _ = sc.SyscallConn()
		}
	}
	return c.raw
}

// plainSocket is a client connection that is a bare TCP socket: a
// *net.TCPConn as accepted, or the fileConn it becomes after parking.
type plainSocket interface {
	net.Conn
	SyscallConn() (syscall.RawConn, error)
}

// errReplyFailed is a response that could not be written whole to its client.
var errReplyFailed = errors.New("writing the response to the client failed")

// replyThenRead writes the deferred response c.reply to the client and reads
// the next request's first bytes into dst, under the read deadline waitUntil
// already set: the socket is read only once the poller reports bytes. A wait
// that ends at waitUntil before deadline reads without waiting: bytes found
// then are a pipelined request whose readiness the raw wait missed, and the
// connection stops deferring responses. Otherwise it goes on waiting, in the
// ordinary way, until deadline.
func (c *conn) replyThenRead(dst []byte, deadline, waitUntil time.Time, idle time.Duration) (int, error) {
	sent, n, err, state := c.replyOp.Run(c.raw, c.reply, dst)
	if state == sendrecv.Received {
		return n, err
	}
	if state == sendrecv.Unsent {
		c.e.SentBytes += int64(sent)
	}
	missed, err := c.afterReply(sent, err, state, deadline, waitUntil, idle)
	if err != nil {
		return 0, err
	}
	if missed {
		if m := c.missedBytes(dst); m > 0 {
			c.pipelines = true
			return m, nil
		}
	}
	c.nc.SetReadDeadline(deadline)
	return c.nc.Read(dst)
}

// afterReply settles a deferred reply's raw wait that did not end with the
// next request's bytes. Unsent: the socket took part (sent bytes) or none of
// the reply, or the wait had already ended (a wakeIfIdle), and the rest is
// written the ordinary way. It returns the error to end the read with, or
// whether the wait stopped at waitUntil, before deadline, so that bytes of a
// pipelined request it missed must be looked for; else the caller reads.
func (c *conn) afterReply(sent int, err error, state sendrecv.State, deadline, waitUntil time.Time, idle time.Duration) (missed bool, _ error) {
	if state == sendrecv.Unsent {
		c.reply = c.reply[sent:]
		if c.flushReply(idle) != nil {
			return false, errReplyFailed
		}
		if err != nil && !isTimeout(err) {
			return false, err
		}
	}
	// Written. The wait failed, or reached waitUntil, or never began.
	if err == nil {
		return false, nil
	}
	if !isTimeout(err) || !waitUntil.Before(deadline) || c.stopping() {
		return false, err // c.stopping: a wakeIfIdle ended the wait
	}
	return true, nil
}

// missedBytes reads into dst, without waiting, what the client sent that the
// raw wait did not see, and returns how much. It runs only after a wait of
// replyWait, so what it allocates costs nothing on the hot path.
func (c *conn) missedBytes(dst []byte) int {
	c.nc.SetReadDeadline(time.Time{})
	return sendrecv.ReadWaiting(c.raw, dst)
}

// replySent logs the entry of a deferred response once the raw path has
// written it (sendrecv.Op.AfterSend).
func (c *conn) replySent() bool {
	c.logReply(c.replyText)
	return true
}

// logReply counts sent more bytes of the deferred response, which is done
// with, and logs its entry.
func (c *conn) logReply(sent int) {
	c.e.SentBytes += int64(sent)
	c.reply = nil
	c.finish(c.replyLB)
	c.replyLB = nil
}

// flushReply writes what is left of a deferred response the ordinary way and
// logs its entry.
func (c *conn) flushReply(idle time.Duration) error {
	if c.replyLB == nil {
		return nil
	}
	c.nc.SetWriteDeadline(time.Now().Add(idle))
	if c.sock != nil {
		// Sealed records: they go to the TCP socket as they are, and the
		// log counts the response's own bytes once all are written.
		_, err := c.sock.Conn.Write(c.reply)
		n := 0
		if err == nil {
			n = c.replyText
		}
		c.logReply(n)
		return err
	}
	n, err := c.nc.Write(c.reply)
	c.logReply(n)
	return err
}

// writeClient writes p to the client, counting sent bytes.
func (c *conn) writeClient(idle time.Duration, p []byte) bool {
	c.nc.SetWriteDeadline(time.Now().Add(idle))
	n, err := c.nc.Write(p)
	c.e.SentBytes += int64(n)
	return err == nil
}

// bodyBuf returns the connection's buffer for streaming bodies.
func (c *conn) bodyBuf() []byte {
	if c.copyBuf == nil {
		c.copyBuf = c.p.bufs.Get().(*[]byte)
	}
	return *c.copyBuf
}

// relayLength streams n more body bytes from the target to the client.
func (c *conn) relayLength(uc *upstream.Conn, idle time.Duration, n int64) bool {
	if k := min(n, int64(uc.W-uc.R)); k > 0 {
		if !c.writeClient(idle, uc.Buf[uc.R:uc.R+int(k)]) {
			return false
		}
		uc.R += int(k)
		n -= k
	}
	if n > copyBufSize {
		if moved, ok := c.spliceBody(uc, idle, n); ok {
			return moved == n
		}
	}
	buf := c.bodyBuf()
	for n > 0 {
		uc.SetReadDeadline(time.Now().Add(idle))
		m, err := uc.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			if !c.writeClient(idle, buf[:m]) {
				return false
			}
			n -= int64(m)
		}
		if err != nil && n > 0 {
			return false
		}
	}
	return true
}

// spliceRequestBody moves the remaining n bytes of a Content-Length request
// body, none of them buffered, from the client to the target through a kernel
// pipe, as spliceBody does for responses. handled is false, with nothing moved,
// when it cannot; otherwise ok says whether the whole body reached the target,
// and a failure has been answered as streamLengthBody answers it.
func (c *conn) spliceRequestBody(l *snapshot.Listener, uc *upstream.Conn, n int64) (handled, ok bool) {
	src := c.rawConn()
	dst := uc.RawConn()
	pipe := c.pipeBetween(src, dst)
	if pipe == nil {
		return false, false
	}
	defer c.p.pipes.Put(pipe)
	idle := l.LB.Attrs.IdleTimeout
	for n > 0 {
		c.nc.SetReadDeadline(time.Now().Add(idle))
		k, err := pipe.In(src, int(min(n, int64(pipe.Cap()))))
		if err != nil {
			return true, c.clientBodyFailed(l, uc, err)
		}
		c.e.ReceivedBytes += int64(k)
		uc.SetWriteDeadline(time.Now().Add(idle))
		m, err := uc.SpliceOut(pipe)
		c.p.spliced.Add(int64(m))
		if err != nil {
			uc.Discard()
			return true, c.answer(l, 502, true)
		}
		n -= int64(k)
	}
	return true, true
}

// spliceBody moves the next n body bytes from the target to the client through
// a kernel pipe (package splice), so that they are not copied through the
// process, and reports how many it moved. It returns ok false, having moved
// nothing, when either side is not a plain TCP socket or no pipe is to be had:
// the caller copies instead. As when copying, every chunk that moves pushes the
// idle deadline of both sides forward.
func (c *conn) spliceBody(uc *upstream.Conn, idle time.Duration, n int64) (moved int64, ok bool) {
	src := uc.RawConn()
	dst := c.rawConn()
	pipe := c.pipeBetween(src, dst)
	if pipe == nil {
		return 0, false
	}
	defer func() {
		c.p.pipes.Put(pipe)
		c.p.spliced.Add(moved)
	}()
	for moved < n {
		uc.SetReadDeadline(time.Now().Add(idle))
		_, err := uc.SpliceIn(pipe, int(min(n-moved, int64(pipe.Cap()))))
		if err != nil {
			return moved, true
		}
		c.nc.SetWriteDeadline(time.Now().Add(idle))
		m, err := pipe.Out(dst)
		c.e.SentBytes += int64(m)
		moved += int64(m)
		if err != nil {
			return moved, true
		}
	}
	return moved, true
}

// pipeBetween returns a pipe from the proxy's pool for splicing from src to
// dst, or nil when a body between them is to be copied instead: the platform
// has no splice, either side is not a plain TCP socket, or no pipe is to be
// had (the proxy is shutting down, or the process is out of descriptors).
func (c *conn) pipeBetween(src, dst syscall.RawConn) *splice.Pipe {
	if !splice.Supported || src == nil || dst == nil {
		return nil
	}
	pipe, err := c.p.pipes.Get()
	if err != nil {
		return nil
	}
	return pipe
}

// relayChunked streams a chunked body verbatim from the target to the client.
func (c *conn) relayChunked(uc *upstream.Conn, idle time.Duration) bool {
	c.chunks.Reset()
	for {
		if uc.R == uc.W {
			uc.R, uc.W = 0, 0
			uc.SetReadDeadline(time.Now().Add(idle))
			n, err := uc.Read(uc.Buf)
			uc.W = n
			if n == 0 {
				_ = err
				return false
			}
		}
		n, done, err := c.chunks.Scan(uc.Buf[uc.R:uc.W])
		if err != nil {
			return false
		}
		if n > 0 {
			if !c.writeClient(idle, uc.Buf[uc.R:uc.R+n]) {
				return false
			}
			uc.R += n
		}
		if done {
			return true
		}
	}
}

// relayUntilClose streams the body of a response delimited by the target
// closing its connection.
func (c *conn) relayUntilClose(uc *upstream.Conn, idle time.Duration) {
	if uc.R < uc.W {
		if !c.writeClient(idle, uc.Buf[uc.R:uc.W]) {
			return
		}
		uc.R = uc.W
	}
	if _, ok := c.spliceBody(uc, idle, math.MaxInt64); ok {
		return // moved until the target closed, or failed
	}
	buf := c.bodyBuf()
	for {
		uc.SetReadDeadline(time.Now().Add(idle))
		m, err := uc.Read(buf)
		if m > 0 && !c.writeClient(idle, buf[:m]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// startWatch starts reading the client connection in the background while the
// request waits for its target, so that a client that leaves is noticed at once
// (ALB's 460). Bytes that arrive meanwhile (a pipelined request) are kept.
func (c *conn) startWatch(uc *upstream.Conn) {
	c.gone.Store(false)
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.buf) {
		c.watching = false // pipelined bytes fill the buffer: the client is alive
		return
	}
	c.watching = true
	if c.watchDone == nil {
		c.watchDone = make(chan struct{}, 1)
	}
	c.nc.SetReadDeadline(time.Time{})
	go c.watch(uc)
}

// watch is the watcher goroutine. Until stopWatch it owns c.w and c.buf[c.w:].
func (c *conn) watch(uc *upstream.Conn) {
	for c.w < len(c.buf) {
		n, err := c.nc.Read(c.buf[c.w:])
		c.w += n
		if err != nil {
			if !isTimeout(err) {
				c.gone.Store(true)
				uc.SetReadDeadline(aLongTimeAgo)
			}
			break
		}
	}
	c.watchDone <- struct{}{}
}

// stopWatch stops the watcher and reports whether the client left.
func (c *conn) stopWatch() bool {
	if !c.watching {
		return false
	}
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watchDone
	c.watching = false
	return c.gone.Load()
}

// Methods as ParseResponse needs them: only HEAD changes a response's framing.
var (
	methodHEAD = []byte("HEAD")
	methodGET  = []byte("GET")
)

// failedWriting reports whether err is a failure to write a request to its
// target (as opposed to one reading the response). upstream.Conn returns its
// *upstream.AttemptError unwrapped; asserting it, rather than errors.As, keeps
// the check free of allocation on the hot path.
func failedWriting(err error) bool {
	ae, ok := err.(*upstream.AttemptError)
	return ok && ae.Op == "write"
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// newConnTraceID returns a connection trace id: "TID_" and 32 lowercase hex digits.
func newConnTraceID() string {
	b := make([]byte, 0, 36)
	b = append(b, "TID_"...)
	b = appendHex64(b, rand.Uint64(), 16)
	b = appendHex64(b, rand.Uint64(), 16)
	return string(b)
}
