package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// Target protocol versions (spec §4.3). A request reaches an HTTP2 or GRPC
// target group only from an HTTP/2 client, and a GRPC group only as a POST; a
// gRPC request does not reach an HTTP1 group. Anything else is ALB's 464.
// Allowed requests go to the target over HTTP/2 (upstream.H2Client), headers
// prepared exactly as for HTTP/1.1 targets, bodies streamed both ways (gRPC's
// bidirectional streams included) and trailers relayed.

// forwardVersion applies the protocol version rules to a request about to be
// forwarded to t. handled reports whether it answered the request (keep is
// then serveRequest's result); otherwise the HTTP/1.1 forward path goes on.
func (c *conn) forwardVersion(l *snapshot.Listener, t *snapshot.Target) (handled, keep bool) {
	req := &c.req
	hasBody := req.Body == http1.BodyChunked || (req.Body == http1.BodyLength && req.ContentLength > 0)
	switch {
	case t.H2 == nil && (c.h2 == nil || !c.h2.grpc):
		return false, false
	case t.H2 == nil, // a gRPC request to an HTTP1 group
		c.h2 == nil, // an HTTP/1.x request to an HTTP2 or GRPC group
		t.ProtocolVersion == config.ProtocolVersionGRPC && string(req.Method) != "POST":
		return true, c.answer(l, 464, hasBody)
	}
	return true, c.forwardH2(l, t)
}

// forwardH2 sends an HTTP/2 client's request to an HTTP/2 target and relays the
// response, trailers included, to the client's stream.
func (c *conn) forwardH2(l *snapshot.Listener, t *snapshot.Target) bool {
	s := c.h2
	idle := l.LB.Attrs.IdleTimeout
	received := time.Now()

	// The headers the target gets are those an HTTP/1.1 target would get:
	// build that head and read it back.
	c.out = c.appendRequestHead(c.out[:0], l)
	var fwd http1.Request
	if err := http1.ParseRequest(c.out, &fwd); err != nil {
		return c.answer(l, 400, false)
	}
	hdr := make(http.Header, len(fwd.Headers)+1)
	host := ""
	for _, h := range fwd.Headers {
		name := http.CanonicalHeaderKey(string(h.Name))
		switch name {
		case "Host":
			host = string(h.Value)
			continue
		case "Transfer-Encoding", "Content-Length":
			continue // HTTP/2 frames the body itself; ContentLength says it
		}
		hdr[name] = append(hdr[name], string(h.Value))
	}
	if te := s.r.Header.Get("Te"); te == "trailers" {
		hdr["Te"] = []string{"trailers"} // gRPC requires it; hop-by-hop otherwise
	}
	scheme := "http"
	if t.Pool.Key() != t.Addr.String() {
		scheme = "https"
	}

	// The idle timeout: no byte in either direction for that long ends the
	// exchange (504 before the response head).
	ctx, cancel := context.WithCancel(s.r.Context())
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(idle, func() { timedOut.Store(true); cancel() })
	defer timer.Stop()
	touch := func() { timer.Reset(idle) }

	body := &countingReader{r: s.r.Body, touch: touch}
	out := &http.Request{
		Method:        s.r.Method,
		URL:           &url.URL{Scheme: scheme, Host: t.Addr.String(), Path: s.r.URL.Path, RawPath: s.r.URL.RawPath, RawQuery: s.r.URL.RawQuery},
		Host:          host,
		Header:        hdr,
		Body:          body,
		ContentLength: s.r.ContentLength,
		Proto:         "HTTP/2.0", ProtoMajor: 2,
	}
	if s.r.ContentLength == 0 {
		out.Body = nil
	}
	out = out.WithContext(ctx)
	c.e.Attempts = append(c.e.Attempts, accesslog.Attempt{Target: t.Addr})
	c.e.RequestProcessingTime = time.Since(received)
	sent := time.Now()
	resp, err := t.H2.RoundTrip(out)
	c.e.ReceivedBytes += body.n.Load()
	if err != nil {
		c.e.RequestProcessingTime, c.e.TargetProcessingTime = -1, -1
		var de *upstream.DialError
		switch {
		case s.r.Context().Err() != nil:
			return c.answer(l, 460, true)
		case timedOut.Load(), errors.As(err, &de) && de.Timeout:
			return c.answer(l, 504, false)
		}
		return c.answer(l, 502, false)
	}
	defer resp.Body.Close()
	touch()
	headAt := time.Now()
	c.e.TargetProcessingTime = headAt.Sub(sent)
	c.e.TargetStatusCode = resp.StatusCode
	c.e.Attempts[len(c.e.Attempts)-1].Status = resp.StatusCode

	h := s.w.Header()
	for name, values := range resp.Header {
		if http1.IsHopByHop([]byte(name)) {
			continue
		}
		h[name] = values
	}
	c.e.ELBStatusCode = resp.StatusCode
	c.e.ResponseProcessingTime = time.Since(headAt)
	s.headDone = true
	s.w.WriteHeader(resp.StatusCode)
	c.e.SentBytes += int64(headerSize(resp.StatusCode, resp.Header))
	buf := c.bodyBuf()
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			touch()
			if _, werr := s.w.Write(buf[:n]); werr != nil {
				c.finish(l.LB)
				return false
			}
			s.w.FlushError()
			c.e.SentBytes += int64(n)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			c.finish(l.LB)
			return false // the stream is reset: the response is incomplete
		}
	}
	for name, values := range resp.Trailer {
		h[http.TrailerPrefix+name] = values
	}
	c.e.SentBytes += int64(headerSize(0, resp.Trailer))
	s.done = true
	c.finish(l.LB)
	return false
}

// headerSize is the size of a header block written as HTTP/1.1 text: the
// access log's byte counts for HTTP/2 use that measure (see
// docs/compatibility.md).
func headerSize(status int, h http.Header) int {
	n := 0
	if status != 0 {
		n = len("HTTP/1.1 000 \r\n\r\n") + len(http.StatusText(status))
	}
	for name, values := range h {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n
}

// countingReader counts a request body's bytes and reports activity.
type countingReader struct {
	r     io.Reader
	n     atomic.Int64
	touch func()
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.n.Add(int64(n))
		r.touch()
	}
	return n, err
}

func (r *countingReader) Close() error { return nil }

// isGRPC reports whether a request's content type is gRPC's.
func isGRPC(contentType string) bool {
	return strings.HasPrefix(contentType, "application/grpc")
}

// grpcStatus maps an HTTP status the load balancer generated to the gRPC
// status a gRPC client gets with it (gRPC's HTTP-to-gRPC mapping; ALB sends
// 14, UNAVAILABLE, with its 502).
func grpcStatus(code int) string {
	switch code {
	case 400:
		return "13" // INTERNAL
	case 401:
		return "16" // UNAUTHENTICATED
	case 403:
		return "7" // PERMISSION_DENIED
	case 404, 464:
		return "12" // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return "14" // UNAVAILABLE
	}
	return "2" // UNKNOWN
}
