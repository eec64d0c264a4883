package proxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/h2"
	"github.com/albatross-lb/albatross/internal/http1"
)

// HTTP/2 from clients (HTTPS listeners, ALPN h2) is served by internal/h2,
// which owns framing, flow control, HPACK and stream state. Each stream then enters the same per-request core as HTTP/1.1 (the
// steps of serveRequest), through a streamConn: a net.Conn whose request head
// is rendered in HTTP/1.1 form straight into the core's read buffer, already
// parsed (renderHead; rare heads are read as bytes and parsed instead), whose
// body reads as the stream's, and which turns the HTTP/1.1 response the core
// writes back into the stream's response. Routing, forwarding, ELB status
// codes, timeouts and access log lines are therefore the same code for both
// versions.

// ALB's HTTP/2 limits (spec §11).
const (
	h2MaxConcurrentStreams = 128
	// h2MaxHeaderBytes matches the HTTP/1.1 request head limit.
	h2MaxHeaderBytes = http1.MaxRequestHead
	// h2MaxRequests is how many requests one HTTP/2 connection carries
	// before the load balancer sends GOAWAY.
	h2MaxRequests = 10000
)

// h2StreamAllocs is the budget of heap allocations per HTTP/2 request
// (docs/performance.md), which TestHTTP2StreamAllocations holds. 3.5 were
// measured on 2026-12-07 with internal/h2 and its handler workers (4.5 with a
// goroutine per request, 42.6 with x/net/http2's server): the HPACK decoder's
// field callback for the header block, and the literal strings HPACK decodes
// that the connection's table did not hold.
const h2StreamAllocs = 5

// serveH2 serves an HTTP/2 client connection until it ends.
func (c *conn) serveH2(tc *tls.Conn) {
	l := c.ln.Load()
	var requests atomic.Int64
	var hc *h2.Conn
	srv := &h2.Server{
		MaxConcurrentStreams: h2MaxConcurrentStreams,
		MaxHeaderListSize:    h2MaxHeaderBytes,
		IdleTimeout:          l.LB.Attrs.IdleTimeout,
		Log:                  c.p.log,
		Workers:              c.p.h2Workers,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// ALB ends an HTTP/2 connection with GOAWAY after 10,000
			// requests or once the client keep-alive duration has passed;
			// streams in flight finish.
			if requests.Add(1) >= h2MaxRequests || time.Since(c.start) >= c.ln.Load().LB.Attrs.ClientKeepAlive {
				hc.Shutdown()
			}
			c.serveStream(w.(streamWriter), r) // internal/h2's writer has it all
		}),
	}
	hc = srv.NewConn(tc)
	c.p.mu.Lock()
	c.h2Shutdown = hc.Shutdown
	c.p.mu.Unlock()
	if c.stopping() {
		hc.Shutdown()
	}
	hc.Serve()
}

// serveStream runs one HTTP/2 request through the request core.
func (c *conn) serveStream(w streamWriter, r *http.Request) {
	c.p.wg.Add(1)
	defer c.p.wg.Done()
	st := c.p.getStream()
	s := &st.s
	s.reset(c, w, r)
	sc := &st.c
	watchDone := sc.watchDone // kept: the 460 watcher's channel, drained
	*sc = conn{
		p:         c.p,
		nc:        s,
		ln:        c.ln,
		client:    c.client,
		start:     c.start,
		tid:       c.tid,
		work:      c.p.getWork(),
		tls:       c.tls,
		h2:        s,
		watchDone: watchDone,
	}
	s.sc = sc
	sc.serveRequest()
	c.p.putWork(sc.work)
	sc.work = nil
	if !s.complete() {
		// Nothing, or only part of a response, was sent: reset the stream
		// rather than let the client take it for a complete response. The
		// stream's state is not reused.
		panic(http.ErrAbortHandler)
	}
	c.p.putStream(st)
}

// h2Stream is the state of one HTTP/2 request that the proxy pools between
// requests (Proxy.streams): the stream adapter with its buffers and the conn
// that serves the request. Nothing holds either once serveStream returns: the
// request's goroutine has finished with them and its 460 watcher, if it ran,
// has stopped (stopWatch).
type h2Stream struct {
	s streamConn
	c conn
}

// maxPooledStreamBuf bounds the request and response head buffers a pooled
// stream keeps; larger ones are dropped with the request that needed them.
const maxPooledStreamBuf = 16 << 10

// getStream returns pooled HTTP/2 request state, or new state.
func (p *Proxy) getStream() *h2Stream {
	if st, ok := p.streams.Get().(*h2Stream); ok {
		return st
	}
	return &h2Stream{s: streamConn{wake: make(chan struct{}, 1)}}
}

// putStream takes back the state of a finished HTTP/2 request, dropping its
// references to the request, the response writer and the connection.
func (p *Proxy) putStream(st *h2Stream) {
	s := &st.s
	s.parent, s.w, s.r, s.sc = nil, nil, nil, nil
	clear(s.resp.Headers[:cap(s.resp.Headers)])
	s.resp = http1.Response{Headers: s.resp.Headers[:0]}
	if cap(s.rbuf) > maxPooledStreamBuf {
		s.rbuf = nil
	}
	if cap(s.headBuf) > maxPooledStreamBuf {
		s.headBuf = nil
	}
	select {
	case <-s.wake:
	default:
	}
	watchDone := st.c.watchDone
	st.c = conn{watchDone: watchDone}
	p.streams.Put(st)
}

// streamConn is one HTTP/2 stream seen as an HTTP/1.1 connection carrying one
// request. Reads return the request head in HTTP/1.1 form, then the body
// (chunked when its length is unknown), then block until the stream ends or the
// read deadline passes, as a quiet client connection would. Writes take the
// HTTP/1.1 response the core sends and hand its status, headers and body to
// the stream.
type streamConn struct {
	parent *conn
	w      streamWriter
	r      *http.Request

	// Request side.
	head    []byte // request head (then chunk framing) not yet read
	headBuf []byte // the buffer head was written into, kept for the next stream
	chunked bool
	// bodyDone is set by Read, which the 460 watcher may run while the
	// request's goroutine sets deadlines.
	bodyDone atomic.Bool
	mu       sync.Mutex
	deadline time.Time     // read deadline once the body is done
	wake     chan struct{} // signals a deadline change to a blocked Read

	// fields holds the head's fields for w.WriteHead.
	fields []h2.Field

	// grpc is whether the request is gRPC (content type application/grpc).
	grpc bool
	// sc is the conn serving the stream's request.
	sc *conn

	// Response side.
	method    []byte
	rbuf      []byte // response head bytes until complete
	resp      http1.Response
	headDone  bool
	body      http1.BodyKind
	remaining int64 // BodyLength: bytes still expected
	dc        dechunker
	done      bool // the response body is complete
}

// streamWriter is what a stream needs of its response writer: internal/h2's
// has all of it, called directly rather than through an
// http.ResponseController, which would be one allocation per stream.
type streamWriter interface {
	http.ResponseWriter
	h2.HeadWriter
	h2.HeaderOrderer
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
	FlushError() error
}

// reset prepares a (pooled) streamConn for the request r on w, keeping its
// buffers.
func (s *streamConn) reset(parent *conn, w streamWriter, r *http.Request) {
	s.parent, s.w, s.r = parent, w, r
	s.chunked = false
	s.bodyDone.Store(false)
	s.deadline = time.Time{}
	s.method = methodGET
	if r.Method == "HEAD" {
		s.method = methodHEAD // only HEAD changes a response's framing
	}
	s.grpc = isGRPC(r.Header.Get("Content-Type"))
	s.rbuf = s.rbuf[:0]
	s.headDone, s.done = false, false
	s.body, s.remaining = 0, 0
	s.dc = dechunker{}
	s.head = nil // readHead renders it (renderHead) or asks for the bytes (headBytes)
}

// renderHead writes the stream's request head into c's empty read buffer and
// fills c.req as http1.ParseRequest would parse it, without parsing it: the
// head is Albatross's own rendering of fields internal/h2 has checked. It
// reports false, having changed nothing the core reads, for a request it
// leaves to the parser (headBytes): a method that is not a token, an empty
// target or one with bytes other than visible ASCII, a head larger than the
// buffer, or framing ParseRequest would refuse.
func (s *streamConn) renderHead(c *conn) bool {
	r := s.r
	if !http1.IsToken(r.Method) || r.RequestURI == "" || !visibleASCII(r.RequestURI) {
		return false
	}
	c.req.Headers = c.req.Headers[:0]
	b := s.appendRequestHead(c.buf[:0], &c.req.Headers)
	if len(b) > len(c.buf) || &b[0] != &c.buf[0] {
		// It did not fit: appending moved it elsewhere, and the fields
		// noted before the move point into the buffer, which ParseRequest
		// starts over from; they must not keep the moved copy alive.
		clear(c.req.Headers)
		c.req.Headers = c.req.Headers[:0]
		return false
	}
	if c.req.Rendered(b, len(r.Method), len(r.RequestURI)) != nil {
		return false
	}
	c.r, c.w = 0, len(b)
	return true
}

// headBytes makes the stream's request head what Read returns first, for the
// core to parse, when renderHead has declined it.
func (s *streamConn) headBytes() {
	s.head = s.appendRequestHead(s.headBuf[:0], nil)
	s.headBuf = s.head
}

// visibleASCII reports whether s has only bytes from '!' to '~'.
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// appendRequestHead writes the stream's request as an HTTP/1.1 head, its
// header fields in the order the client sent them (the values of a repeated
// name together, at its first place). Header names stay lowercase, as HTTP/2
// carries them (ALB forwards them so); the core adds Host, X-Forwarded-* and
// X-Amzn-Trace-Id as for HTTP/1.1. With fields, it also appends each field as
// a parser would see it: slices of b, valid while appending did not move b.
func (s *streamConn) appendRequestHead(b []byte, fields *[]http1.Header) []byte {
	r := s.r
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.RequestURI...)
	b = append(b, " HTTP/1.1\r\n"...)
	if r.Host != "" {
		b = appendFieldLine(b, fields, "Host", r.Host)
	}
	for _, name := range s.w.HeaderOrder() {
		values := r.Header[name]
		switch name {
		case "Host", "Content-Length", "Expect", "Connection", "Te", "Transfer-Encoding":
			// Host comes from :authority; the body framing is written
			// below; internal/h2 answers 100-continue itself.
			continue
		}
		for _, v := range values {
			n0 := len(b)
			for i := 0; i < len(name); i++ {
				ch := name[i]
				if ch >= 'A' && ch <= 'Z' {
					ch += 'a' - 'A'
				}
				b = append(b, ch)
			}
			b = appendFieldValue(b, fields, n0, v)
		}
	}
	switch {
	case r.ContentLength > 0 || (r.ContentLength == 0 && len(r.Header["Content-Length"]) > 0):
		var digits [20]byte
		b = appendFieldLine(b, fields, "content-length", strconv.AppendInt(digits[:0], r.ContentLength, 10))
	case r.ContentLength < 0:
		s.chunked = true
		b = appendFieldLine(b, fields, "transfer-encoding", "chunked")
	default:
		s.bodyDone.Store(true)
	}
	b = appendFieldLine(b, fields, "Connection", "close")
	return append(b, "\r\n"...)
}

// appendFieldLine appends the field line "name: value" (CRLF included), and
// the field to fields when that is not nil.
func appendFieldLine[V ~string | ~[]byte](b []byte, fields *[]http1.Header, name string, value V) []byte {
	n0 := len(b)
	b = append(b, name...)
	return appendFieldValue(b, fields, n0, value)
}

// appendFieldValue ends a field line whose name starts at b[n0:]: ": ",
// the value, CRLF. The field it appends to fields has the value as a
// parser's has it (http1.TrimOWS).
func appendFieldValue[V ~string | ~[]byte](b []byte, fields *[]http1.Header, n0 int, value V) []byte {
	n1 := len(b)
	b = append(b, ": "...)
	v0 := len(b)
	b = append(b, value...)
	if fields != nil {
		v := http1.TrimOWS(b[v0:len(b):len(b)])
		*fields = append(*fields, http1.Header{Name: b[n0:n1:n1], Value: v[:len(v):len(v)]})
	}
	return append(b, "\r\n"...)
}

// Read implements net.Conn.
func (s *streamConn) Read(p []byte) (int, error) {
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	if !s.bodyDone.Load() {
		if s.chunked {
			return s.readChunk(p)
		}
		n, err := s.r.Body.Read(p)
		if err == io.EOF {
			s.bodyDone.Store(true)
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, s.waitEnd()
}

// readChunk reads the body in chunked form, for a request whose length the
// client did not declare.
func (s *streamConn) readChunk(p []byte) (int, error) {
	const frame = 16 // room for the size line and CRLF
	if len(p) <= frame+2 {
		return 0, errors.New("read buffer too small for a chunk") // the core's are KiBs
	}
	n, err := s.r.Body.Read(p[frame : len(p)-2])
	if err != nil && err != io.EOF {
		return 0, err
	}
	var out []byte
	if n > 0 {
		size := strconv.AppendInt(make([]byte, 0, frame), int64(n), 16)
		size = append(size, "\r\n"...)
		out = append(size, p[frame:frame+n]...)
		out = append(out, "\r\n"...)
	}
	if err == io.EOF {
		s.bodyDone.Store(true)
		out = append(out, "0\r\n\r\n"...)
	}
	m := copy(p, out)
	if m < len(out) {
		s.head = append(s.head[:0], out[m:]...)
	}
	return m, nil
}

// waitEnd blocks a read after the whole request has been read: until the
// client resets the stream or drops the connection (io.EOF, the client is
// gone) or the read deadline passes.
func (s *streamConn) waitEnd() error {
	for {
		s.mu.Lock()
		d := s.deadline
		s.mu.Unlock()
		var timer *time.Timer
		var expired <-chan time.Time
		if !d.IsZero() {
			wait := time.Until(d)
			if wait <= 0 {
				return os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		select {
		case <-s.r.Context().Done():
			return io.EOF
		case <-expired:
			return os.ErrDeadlineExceeded
		case <-s.wake:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// SetReadDeadline implements net.Conn.
func (s *streamConn) SetReadDeadline(t time.Time) error {
	if !s.bodyDone.Load() {
		s.w.SetReadDeadline(t)
	}
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// SetWriteDeadline implements net.Conn.
func (s *streamConn) SetWriteDeadline(t time.Time) error {
	s.w.SetWriteDeadline(t)
	return nil
}

// SetDeadline implements net.Conn.
func (s *streamConn) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// Close implements net.Conn; the stream ends when the handler returns.
func (s *streamConn) Close() error { return nil }

// LocalAddr implements net.Conn.
func (s *streamConn) LocalAddr() net.Addr { return s.parent.nc.LocalAddr() }

// RemoteAddr implements net.Conn.
func (s *streamConn) RemoteAddr() net.Addr { return s.parent.nc.RemoteAddr() }

// Write implements net.Conn: it takes the HTTP/1.1 response the core writes.
func (s *streamConn) Write(p []byte) (int, error) {
	n := len(p)
	for !s.headDone {
		// The core writes a whole head at once: it is parsed where it is,
		// and only a head that arrives in parts is gathered in rbuf. The
		// head's fields alias p until writeHead has encoded them.
		head := p
		if len(s.rbuf) > 0 {
			s.rbuf = append(s.rbuf, p...)
			head = s.rbuf
		}
		err := http1.ParseResponse(head, &s.resp, s.method)
		if err == http1.ErrIncomplete {
			if len(s.rbuf) == 0 {
				s.rbuf = append(s.rbuf, p...)
			}
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		// What follows the head stays where it is, in p or in rbuf's
		// array, which nothing appends to before the next Write.
		p = head[s.resp.HeadLen:]
		s.rbuf = s.rbuf[:0]
		if s.resp.Status < 200 {
			// An interim response: HTTP/2 has its own 100-continue. The
			// final head may follow it in the same write.
			if len(p) == 0 {
				return n, nil
			}
			continue
		}
		s.writeHead()
	}
	if err := s.writeBody(p); err != nil {
		return 0, err
	}
	if s.done {
		// The last of the response: internal/h2 sends what is buffered
		// when the handler returns, with END_STREAM on the last DATA
		// frame, where a flush now would send that frame and then an
		// empty one to end the stream.
		return n, nil
	}
	if err := s.w.FlushError(); err != nil {
		return 0, err
	}
	return n, nil
}

// writeHead sends the response head to the stream, without HTTP/1.1's
// connection-specific fields, in the target's order and with no header map
// (h2.HeadWriter).
func (s *streamConn) writeHead() {
	s.headDone = true
	fields := s.fields[:0]
	for _, f := range s.resp.Headers {
		if s.keepField(f.Name) {
			fields = append(fields, h2.Field{Name: f.Name, Value: f.Value})
		}
	}
	if s.grpc && s.sc.e.TargetStatusCode == 0 && s.resp.Status >= 400 {
		// A gRPC client reads the outcome from grpc-status (ALB: 502 with
		// grpc-status 14, grpc-message unavailable).
		msg := grpcUnavailable
		if s.resp.Status != 502 && s.resp.Status != 503 && s.resp.Status != 504 {
			msg = []byte(strings.ToLower(http1.StatusText(s.resp.Status)))
		}
		fields = append(fields,
			h2.Field{Name: grpcStatusName, Value: []byte(grpcStatus(s.resp.Status))},
			h2.Field{Name: grpcMessageName, Value: msg})
	}
	s.body = s.resp.Body
	s.remaining = s.resp.ContentLength
	s.done = s.body == http1.BodyNone || (s.body == http1.BodyLength && s.remaining == 0)
	s.w.WriteHead(s.resp.Status, fields)
	clear(fields)
	s.fields = fields[:0]
}

var (
	grpcStatusName  = []byte("grpc-status")
	grpcMessageName = []byte("grpc-message")
	grpcUnavailable = []byte("unavailable")
)

// keepField reports whether a response header field goes on to the stream:
// HTTP/1.1's connection-specific fields do not, nor a Content-Length beside
// chunked framing.
func (s *streamConn) keepField(name []byte) bool {
	return !http1.IsHopByHop(name) && !http1.EqualFold(name, "Transfer-Encoding") &&
		(s.resp.Body != http1.BodyChunked || !http1.EqualFold(name, "Content-Length"))
}

// writeBody sends body bytes of the response, taking chunked framing off.
func (s *streamConn) writeBody(p []byte) error {
	switch s.body {
	case http1.BodyLength:
		k := int64(len(p))
		if k > s.remaining {
			p = p[:s.remaining]
			k = s.remaining
		}
		s.remaining -= k
		if s.remaining == 0 {
			s.done = true
		}
	case http1.BodyChunked:
		var err error
		if p, err = s.dc.decode(p); err != nil {
			return err
		}
		s.done = s.dc.finished
	case http1.BodyUntilClose:
		s.done = true // complete by definition when the target closes
	default:
		return nil
	}
	if len(p) == 0 {
		return nil
	}
	_, err := s.w.Write(p)
	return err
}

// complete reports whether a whole response was handed to the stream.
func (s *streamConn) complete() bool { return s.headDone && s.done }
