package proxy

import (
	"bytes"
	"math/rand/v2"
	"strconv"

	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/route"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// traceHeaderLimit: when the request head is larger than this, ALB replaces
// X-Amzn-Trace-Id with a fresh Root instead of extending it (spec §7.4).
const traceHeaderLimit = 7 << 10

// appendRequestHead appends the head of the request as it goes to the target:
// origin-form request line in HTTP/1.1, the client's end-to-end headers in order,
// then the headers ALB sets (spec §7): Host, X-Forwarded-For, -Proto, -Port and
// X-Amzn-Trace-Id.
func (c *conn) appendRequestHead(b []byte, l *snapshot.Listener) []byte {
	req := &c.req
	attrs := &l.LB.Attrs
	b = append(b, req.Method...)
	b = append(b, ' ')
	if c.rt.uri != nil {
		b = append(b, c.rt.uri...) // rewritten by a url-rewrite transform
	} else {
		b = appendOriginForm(b, req.Target)
	}
	b = append(b, " HTTP/1.1\r\n"...)
	// A host-header-rewrite transform sets Host even when the client's is
	// otherwise preserved.
	preserveHost := attrs.PreserveHostHeader && c.rt.host == nil
	if !preserveHost {
		b = append(b, "Host: "...)
		b = appendTargetHost(b, req, c.rt.host, l)
		b = append(b, "\r\n"...)
	}
	for _, h := range req.Headers {
		if c.dropRequestHeader(h.Name, preserveHost, attrs.DropInvalidHeaderFields) {
			continue
		}
		b = appendHeader(b, h.Name, h.Value)
	}
	if req.Body == http1.BodyChunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = c.appendUpgradeHeaders(b)
	b = append(b, c.rt.auth.Upstream...) // x-amzn-oidc-*
	b = c.appendTLSHeaders(b, attrs.TLSVersionAndCipherSuiteHeaders)
	b = c.appendMTLSHeaders(b)
	b = c.appendXFF(b, attrs.XFFHeaderProcessingMode, attrs.XFFClientPort)
	b = append(b, "X-Forwarded-Proto: "...)
	b = append(b, l.Scheme...)
	b = append(b, "\r\nX-Forwarded-Port: "...)
	b = append(b, l.PortText...)
	b = append(b, "\r\nX-Amzn-Trace-Id: "...)
	c.trace = c.appendTraceID(c.trace[:0])
	c.e.TraceID = c.trace
	b = append(b, c.trace...)
	return append(b, "\r\n\r\n"...)
}

// dropRequestHeader reports whether a client header is not forwarded as is:
// hop-by-hop headers and those named by Connection (RFC 9110 §7.6.1), headers the
// load balancer sets itself, Expect once answered, Content-Length beside chunked
// framing, and invalid names when the load balancer is told to drop them.
func (c *conn) dropRequestHeader(name []byte, preserveHost, dropInvalid bool) bool {
	req := &c.req
	switch {
	case http1.EqualFold(name, "Host"):
		return !preserveHost
	case http1.IsHopByHop(name),
		http1.EqualFold(name, "X-Forwarded-For"),
		http1.EqualFold(name, "X-Forwarded-Proto"),
		http1.EqualFold(name, "X-Forwarded-Port"),
		http1.EqualFold(name, "X-Amzn-Trace-Id"),
		auth.IsOIDCHeader(name):
		return true
	case req.ExpectContinue && http1.EqualFold(name, "Expect"):
		return true
	case req.Body == http1.BodyChunked && http1.EqualFold(name, "Content-Length"):
		return true
	case dropInvalid && !validHeaderName(name):
		return true
	case c.tls != nil && c.isTLSHeader(name):
		return true
	case c.isMTLSHeader(name):
		return true
	}
	return listedInConnection(req.Headers, name)
}

// validHeaderName reports whether name matches ALB's notion of a valid header
// name, [-A-Za-z0-9]+ (spec §7.8).
func validHeaderName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, ch := range name {
		if !(ch == '-' || ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			return false
		}
	}
	return true
}

// listedInConnection reports whether a Connection header names the header name,
// which makes it hop-by-hop.
func listedInConnection(headers []http1.Header, name []byte) bool {
	for _, h := range headers {
		if http1.EqualFold(h.Name, "Connection") && http1.HasToken(h.Value, name) {
			return true
		}
	}
	return false
}

// appendTargetHost appends the Host value ALB sends when it does not preserve the
// client's (spec §7.5): the host of an absolute-form target or the Host header,
// the load balancer's DNS name for HTTP/1.0 without one; hostname lowercased; the
// port dropped on ports 80 and 443 and added, as the listener port, elsewhere
// when the client gave none. A non-nil rewritten host (a host-header-rewrite
// transform's) replaces the client's host name; the port is chosen the same way.
func appendTargetHost(b []byte, req *http1.Request, rewritten []byte, l *snapshot.Listener) []byte {
	hostport := requestHost(req)
	if len(hostport) == 0 && rewritten == nil {
		b = append(b, l.LB.DNSName...)
		hostport = nil
	}
	host, port := splitHostPort(hostport)
	if rewritten != nil {
		host = rewritten
	}
	for _, ch := range host {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	if l.Port == 80 || l.Port == 443 {
		return b
	}
	b = append(b, ':')
	if len(port) > 0 {
		return append(b, port...)
	}
	return append(b, l.PortText...)
}

// requestHost returns the authority of an absolute-form request target, or else
// the first Host header's value (nil if none).
func requestHost(req *http1.Request) []byte {
	if rest, ok := route.CutScheme(req.Target); ok {
		end := len(rest)
		for i, ch := range rest {
			if ch == '/' || ch == '?' || ch == '#' {
				end = i
				break
			}
		}
		return rest[:end]
	}
	return req.Host
}

// appendOriginForm appends the path and query of a request target: the target
// itself unless it is in absolute form, whose authority is dropped ("/" stands
// for an empty path, so "http://host?q" becomes "/?q").
func appendOriginForm(b, target []byte) []byte {
	rest, ok := route.CutScheme(target)
	if !ok {
		return append(b, target...)
	}
	for i, ch := range rest {
		switch ch {
		case '/':
			return append(b, rest[i:]...)
		case '?':
			b = append(b, '/')
			return append(b, rest[i:]...)
		}
	}
	return append(b, '/')
}

// splitHostPort splits "host:port", "[v6]:port", "[v6]" or "host"; a bare IPv6
// literal without brackets is all host.
func splitHostPort(hp []byte) (host, port []byte) {
	if len(hp) > 0 && hp[0] == '[' {
		end := bytes.IndexByte(hp, ']')
		if end < 0 {
			return hp, nil
		}
		if end+1 < len(hp) && hp[end+1] == ':' {
			return hp[:end+1], hp[end+2:]
		}
		return hp[:end+1], nil
	}
	i := bytes.LastIndexByte(hp, ':')
	if i < 0 || bytes.IndexByte(hp[:i], ':') >= 0 {
		return hp, nil
	}
	return hp[:i], hp[i+1:]
}

// countXFF counts the addresses in all X-Forwarded-For headers.
func countXFF(req *http1.Request) int {
	n := 0
	for _, h := range req.Headers {
		if !http1.EqualFold(h.Name, "X-Forwarded-For") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			var item []byte
			if item, v = http1.NextListItem(v); len(item) > 0 {
				n++
			}
		}
	}
	return n
}

// appendXFF appends X-Forwarded-For as the xff_header_processing mode says
// (spec §7.1): append the client's address (with its port when asked) to what
// the client sent, preserve it unchanged, or remove it.
func (c *conn) appendXFF(b []byte, mode string, withPort bool) []byte {
	if mode == "remove" {
		return b
	}
	start := len(b)
	b = append(b, "X-Forwarded-For: "...)
	prefix := len(b)
	for _, h := range c.req.Headers {
		if http1.EqualFold(h.Name, "X-Forwarded-For") && len(h.Value) > 0 {
			if len(b) > prefix {
				b = append(b, ", "...)
			}
			b = append(b, h.Value...)
		}
	}
	if mode == "preserve" {
		if len(b) == prefix {
			return b[:start]
		}
		return append(b, "\r\n"...)
	}
	if len(b) > prefix {
		b = append(b, ", "...)
	}
	ip := c.client.Addr()
	switch {
	case withPort && ip.Is6():
		b = append(b, '[')
		b = ip.AppendTo(b)
		b = append(b, "]:"...)
		b = strconv.AppendUint(b, uint64(c.client.Port()), 10)
	case withPort:
		b = ip.AppendTo(b)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(c.client.Port()), 10)
	default:
		b = ip.AppendTo(b)
	}
	return append(b, "\r\n"...)
}

// appendTraceID appends the X-Amzn-Trace-Id value forwarded to the target (spec
// §7.4): a new Root when the client sent none (keeping any custom fields it
// sent), a new Self in front of the client's Root, or the client's Self replaced.
func (c *conn) appendTraceID(t []byte) []byte {
	epoch := c.reqStart.Unix()
	v := c.req.Header("X-Amzn-Trace-Id")
	if len(v) == 0 || c.req.HeadLen > traceHeaderLimit {
		t = append(t, "Root="...)
		return appendTraceValue(t, epoch)
	}
	hasRoot, selfAt := false, -1
	for rest, off := v, 0; len(rest) > 0; {
		field := rest
		next := bytes.IndexByte(rest, ';')
		if next >= 0 {
			field = rest[:next]
		}
		f := bytes.Trim(field, " \t")
		switch {
		case len(f) >= 5 && http1.EqualFold(f[:5], "Root="):
			hasRoot = true
		case len(f) >= 5 && http1.EqualFold(f[:5], "Self=") && selfAt < 0:
			selfAt = off
		}
		if next < 0 {
			break
		}
		rest = rest[next+1:]
		off += next + 1
	}
	switch {
	case selfAt >= 0:
		// Replace the value of the client's Self field, keep the rest in place.
		t = append(t, v[:selfAt]...)
		t = append(t, "Self="...)
		t = appendTraceValue(t, epoch)
		end := bytes.IndexByte(v[selfAt:], ';')
		if end >= 0 {
			t = append(t, v[selfAt+end:]...)
		}
		return t
	case hasRoot:
		t = append(t, "Self="...)
		t = appendTraceValue(t, epoch)
	default:
		t = append(t, "Root="...)
		t = appendTraceValue(t, epoch)
	}
	t = append(t, ';')
	return append(t, v...)
}

// appendTraceValue appends "1-<8 hex epoch seconds>-<24 hex random>".
func appendTraceValue(t []byte, epoch int64) []byte {
	t = append(t, "1-"...)
	t = appendHex64(t, uint64(epoch), 8)
	t = append(t, '-')
	t = appendHex64(t, rand.Uint64(), 16)
	return appendHex64(t, uint64(rand.Uint32()), 8)
}

// appendResponseHead appends the response head sent to the client: the target's
// status and end-to-end headers, without its hop-by-hop ones, with the
// listener's response headers (replacing the target's of the same name) and
// the connection decision of the load balancer.
func appendResponseHead(b []byte, resp *http1.Response, keep, http10 bool, lh *snapshot.ListenerHeaders) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(resp.Status), 10)
	b = append(b, ' ')
	if len(resp.Reason) > 0 {
		b = append(b, resp.Reason...)
	} else {
		b = append(b, http1.StatusText(resp.Status)...)
	}
	b = append(b, "\r\n"...)
	for _, h := range resp.Headers {
		switch {
		case http1.EqualFold(h.Name, "Transfer-Encoding"):
			if resp.Body == http1.BodyChunked {
				continue // written once, normalised, below
			}
		case http1.IsHopByHop(h.Name):
			continue
		case resp.Body == http1.BodyChunked && http1.EqualFold(h.Name, "Content-Length"):
			continue
		case listedInConnection(resp.Headers, h.Name):
			continue
		case lh.Sets(h.Name):
			continue // the listener's value replaces the target's
		}
		b = appendHeader(b, h.Name, h.Value)
	}
	b = append(b, lh.Response...)
	if resp.Body == http1.BodyChunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case !keep:
		b = append(b, "Connection: close\r\n"...)
	case http10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

func appendHeader(b, name, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

const hexDigits = "0123456789abcdef"

// appendHex64 appends the low digits hex digits of v, zero-padded.
func appendHex64(b []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return b
}
