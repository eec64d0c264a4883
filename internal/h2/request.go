package h2

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// headerBlock is a decoded header block: a request's head or trailers.
type headerBlock struct {
	StreamID  uint32
	endStream bool
	priority  *http2.PriorityParam
	// Truncated is set when the fields exceed the header list limit; the
	// fields past it are not kept.
	Truncated bool
	fields    []hpack.HeaderField
	npseudo   int // fields[:npseudo] are the pseudo-header fields
}

func (f *headerBlock) StreamEnded() bool                  { return f.endStream }
func (f *headerBlock) HasPriority() bool                  { return f.priority != nil }
func (f *headerBlock) PseudoFields() []hpack.HeaderField  { return f.fields[:f.npseudo] }
func (f *headerBlock) RegularFields() []hpack.HeaderField { return f.fields[f.npseudo:] }

// readHeaders reads the rest of a header block that starts with hf (its
// CONTINUATION frames) and decodes it into c.block, checking its fields as
// RFC 9113 §8.2 requires: a malformed field is a stream error, a block that
// cannot be decoded a connection error (the HPACK state is lost).
func (c *Conn) readHeaders(hf *http2.HeadersFrame) (*headerBlock, error) {
	b := &c.block
	*b = headerBlock{StreamID: hf.StreamID, endStream: hf.StreamEnded(), fields: b.fields[:0]}
	if hf.HasPriority() {
		p := hf.Priority
		b.priority = &p
	}
	limit := int64(c.fr.MaxHeaderListSize)
	frag := hf.HeaderBlockFragment()
	if !hf.HeadersEnded() {
		c.fragments = append(c.fragments[:0], frag...)
		for {
			f, err := c.fr.ReadFrame()
			if err != nil {
				return nil, err
			}
			cf := f.(*http2.ContinuationFrame) // the Framer checks the order
			c.fragments = append(c.fragments, cf.HeaderBlockFragment()...)
			if int64(len(c.fragments)) > 2*limit {
				return nil, connErr(http2.ErrCodeProtocol) // far past the limit
			}
			if cf.HeadersEnded() {
				break
			}
		}
		frag = c.fragments
	}
	remain := limit
	var invalid, sawRegular bool
	c.dec.SetEmitEnabled(true)
	c.dec.SetEmitFunc(func(f hpack.HeaderField) {
		pseudo := strings.HasPrefix(f.Name, ":")
		switch {
		case !httpguts.ValidHeaderFieldValue(f.Value),
			pseudo && sawRegular,
			!pseudo && !validWireName(f.Name):
			invalid = true
		}
		sawRegular = sawRegular || !pseudo
		if invalid {
			c.dec.SetEmitEnabled(false)
			return
		}
		if size := int64(f.Size()); size > remain {
			c.dec.SetEmitEnabled(false)
			b.Truncated = true
			remain = 0
			return
		} else {
			remain -= size
		}
		b.fields = append(b.fields, f)
		if pseudo {
			b.npseudo++
		}
	})
	_, err := c.dec.Write(frag)
	if err == nil {
		err = c.dec.Close()
	}
	if cap(c.fragments) > maxKeptBuf {
		c.fragments = nil
	}
	if err != nil {
		return nil, connErr(http2.ErrCodeCompression)
	}
	if invalid || !validPseudo(b.PseudoFields()) {
		return nil, streamErr(b.StreamID, http2.ErrCodeProtocol)
	}
	return b, nil
}

// validWireName reports whether name is a valid HTTP/2 field name: a token,
// in lower case.
func validWireName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch >= 'A' && ch <= 'Z' || !httpguts.IsTokenRune(rune(ch)) {
			return false
		}
	}
	return true
}

// validPseudo reports whether a request's pseudo-header fields are known
// request fields, each at most once (RFC 9113 §8.3).
func validPseudo(pf []hpack.HeaderField) bool {
	for i, f := range pf {
		switch f.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
		default:
			return false
		}
		for _, g := range pf[:i] {
			if g.Name == f.Name {
				return false
			}
		}
	}
	return true
}

// processHeaders handles a complete header block: a new request, or the
// trailers of one in progress.
func (c *Conn) processHeaders(f *headerBlock) error {
	id := f.StreamID
	c.mu.Lock()
	if id%2 != 1 {
		c.mu.Unlock()
		return connErr(http2.ErrCodeProtocol) // clients open odd streams (§5.1.1)
	}
	if st := c.streams[id]; st != nil {
		defer c.mu.Unlock()
		return c.processTrailers(st, f)
	}
	if id <= c.maxClientID {
		c.mu.Unlock()
		return connErr(http2.ErrCodeProtocol) // a closed stream, or one lower than the last
	}
	c.maxClientID = id
	if c.goingAway {
		c.mu.Unlock()
		return nil // after GOAWAY: not processed
	}
	if uint32(len(c.streams)) >= c.maxStreams {
		code := http2.ErrCodeProtocol
		if c.unackedSettings > 0 {
			code = http2.ErrCodeRefusedStream // it may not have seen our limit yet
		}
		c.mu.Unlock()
		return streamErr(id, code)
	}
	if f.HasPriority() && f.priority.StreamDep == id {
		c.mu.Unlock()
		return streamErr(id, http2.ErrCodeProtocol) // §5.3.1
	}
	c.mu.Unlock()

	// The request is built without the lock: only this goroutine knows the
	// stream yet.
	st := c.newStream(id)
	handler := c.srv.Handler
	if f.Truncated {
		handler = http.HandlerFunc(headerListTooLong)
		st.req.Method, st.req.Header, st.req.Body = "GET", st.header, http.NoBody
	} else if !c.buildRequest(st, f) {
		c.releaseUnstarted(st)
		return streamErr(id, http2.ErrCodeProtocol)
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.releaseUnstarted(st)
		return nil
	}
	c.streams[id] = st
	st.sendWindow = c.peerInitialWindow
	if len(c.streams) == 1 && c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	if f.StreamEnded() {
		st.remoteDone = true
	}
	if c.handlers >= int(c.maxStreams) {
		// Handlers of streams the client has already reset may still be
		// finishing. A client that keeps opening and resetting streams
		// ("rapid reset") would otherwise start handlers without bound:
		// the stream waits for a handler to finish, and too many waiting
		// end the connection.
		if len(c.unstarted) >= 4*int(c.maxStreams) {
			c.mu.Unlock()
			return connErr(http2.ErrCodeEnhanceYourCalm)
		}
		st.handler = handler
		c.unstarted = append(c.unstarted, st)
		c.mu.Unlock()
		return nil
	}
	c.handlers++
	c.mu.Unlock()
	c.startHandler(st, handler)
	return nil
}

// headerListTooLong answers a request whose header list exceeds the limit.
func headerListTooLong(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
	w.Write([]byte("<h1>HTTP Error 431</h1><p>Request Header Field(s) Too Large</p>"))
}

// processTrailers handles a second header block on st: the request's
// trailers, which must end the stream.
func (c *Conn) processTrailers(st *stream, f *headerBlock) error {
	if st.remoteDone {
		return streamErr(st.id, http2.ErrCodeStreamClosed)
	}
	if st.gotTrailers {
		return connErr(http2.ErrCodeProtocol)
	}
	st.gotTrailers = true
	if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
		return streamErr(st.id, http2.ErrCodeProtocol) // §8.1
	}
	for _, hf := range f.RegularFields() {
		key := c.canonical(hf.Name)
		if !httpguts.ValidTrailerHeader(key) {
			return streamErr(st.id, http2.ErrCodeProtocol)
		}
		if st.req.Trailer != nil {
			if _, declared := st.req.Trailer[key]; declared {
				st.req.Trailer[key] = append(st.req.Trailer[key], hf.Value)
			}
		}
	}
	if st.declared >= 0 && st.received != st.declared {
		return streamErr(st.id, http2.ErrCodeProtocol)
	}
	c.endRemoteLocked(st)
	return nil
}

// specialFields is a set of the request fields buildRequest treats apart
// from the others.
type specialFields uint8

// The fields of specialFields. fieldForbidden stands for the
// connection-specific fields a request must not carry (RFC 9113 §8.2.2).
const (
	fieldForbidden specialFields = 1 << iota
	fieldTE
	fieldCookie
	fieldExpect
	fieldTrailer
	fieldHost
	fieldContentLength
)

// specialField classifies a field name in HTTP/2's lower case: one of the
// specialFields, or zero for any other field.
func specialField(name string) specialFields {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return fieldForbidden
	case "te":
		return fieldTE
	case "cookie":
		return fieldCookie
	case "expect":
		return fieldExpect
	case "trailer":
		return fieldTrailer
	case "host":
		return fieldHost
	case "content-length":
		return fieldContentLength
	}
	return 0
}

// buildRequest fills st's request from a request header block. It reports
// false for a malformed request (RFC 9113 §8.3), a stream error of type
// PROTOCOL_ERROR.
func (c *Conn) buildRequest(st *stream, f *headerBlock) bool {
	var method, scheme, authority, path string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		case ":path":
			path = hf.Value
		default:
			return false // :protocol (extended CONNECT) is not offered
		}
	}
	connect := method == "CONNECT"
	if connect {
		if path != "" || scheme != "" || authority == "" {
			return false
		}
	} else if method == "" || path == "" || (scheme != "https" && scheme != "http") {
		return false
	}

	h := st.header
	vals, order := st.vals[:0], st.order[:0]
	var special specialFields
	for _, hf := range f.RegularFields() {
		// Names arrive in lower case (validWireName), so the fields this
		// function looks at again are noted here, by their wire name, and
		// the map is consulted only for those that are present.
		if k := specialField(hf.Name); k != 0 {
			if k == fieldForbidden {
				return false // connection-specific (§8.2.2)
			}
			special |= k
		}
		key := c.canonical(hf.Name)
		if prev, ok := h[key]; ok {
			h[key] = append(prev, hf.Value)
			continue
		}
		vals = append(vals, hf.Value)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
		order = append(order, key)
	}
	st.vals, st.order = vals, order
	if special&fieldTE != 0 {
		if te := h["Te"]; len(te) > 1 || (len(te) == 1 && te[0] != "trailers") {
			return false
		}
	}
	if special&fieldCookie != 0 {
		if cookies := h["Cookie"]; len(cookies) > 1 {
			// HTTP/2 may split the Cookie field; HTTP/1.1 has one (§8.2.3).
			h["Cookie"] = []string{strings.Join(cookies, "; ")}
		}
	}
	if special&fieldExpect != 0 {
		if expect := h["Expect"]; len(expect) > 0 && httpguts.HeaderValuesContainsToken(expect, "100-continue") {
			delete(h, "Expect")
			st.needContinue = true
		}
	}
	r := st.req
	r.Trailer = nil
	if special&fieldTrailer != 0 {
		tr := h["Trailer"]
		for _, v := range tr {
			for _, key := range strings.Split(v, ",") {
				key = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(key))
				switch key {
				case "Transfer-Encoding", "Trailer", "Content-Length", "":
				default:
					if r.Trailer == nil {
						r.Trailer = make(http.Header)
					}
					r.Trailer[key] = nil
				}
			}
		}
		delete(h, "Trailer")
	}
	if special&fieldHost != 0 {
		host := h["Host"]
		if len(host) > 1 {
			return false
		}
		if authority == "" {
			authority = host[0]
		} else if host[0] != authority {
			return false
		}
		delete(h, "Host")
	}
	if authority != "" && (strings.IndexByte(authority, '@') >= 0 || !httpguts.ValidHostHeader(authority)) {
		return false
	}

	u := &st.url
	*u = url.URL{}
	if connect {
		u.Host = authority
		r.RequestURI = authority
	} else {
		if path[0] != '/' && path != "*" {
			return false
		}
		if !plainPath(path) {
			parsed, err := url.ParseRequestURI(path)
			if err != nil {
				return false
			}
			*u = *parsed
		} else if q := strings.IndexByte(path, '?'); q >= 0 {
			u.Path, u.RawQuery, u.ForceQuery = path[:q], path[q+1:], q == len(path)-1
		} else {
			u.Path = path
		}
		r.RequestURI = path
	}

	r.Method = method
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.Header = h
	r.Host = authority
	r.RemoteAddr = c.remote
	r.TLS = nil
	if scheme == "https" {
		r.TLS = c.tlsState
	}
	r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
	r.GetBody, r.Cancel, r.Response, r.Pattern = nil, nil, nil, ""
	r.Close = false
	r.TransferEncoding = nil
	r.Body = http.NoBody
	r.ContentLength = 0
	st.declared = -1
	if !f.StreamEnded() {
		r.Body = &st.body
		r.ContentLength = -1
		if special&fieldContentLength != 0 {
			cl := h["Content-Length"]
			n, err := strconv.ParseUint(cl[0], 10, 63)
			if err != nil || len(cl) > 1 {
				return false
			}
			r.ContentLength = int64(n)
			st.declared = int64(n)
		}
	} else if special&fieldContentLength != 0 {
		if cl := h["Content-Length"]; len(cl) > 1 || cl[0] != "0" {
			return false // a length the (empty) body does not have
		}
	}
	return true
}

// plainPath reports whether a request path has only bytes that need no
// decoding or checking, so that splitting off the query is its whole parse.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if b := p[i]; b <= ' ' || b >= 0x7f || b == '%' || b == '#' {
			return false
		}
	}
	return true
}

// canonical returns the canonical (net/http) form of a lower-case HTTP/2
// field name, without allocating for common names or names the connection
// has seen before.
func (c *Conn) canonical(name string) string {
	if s, ok := commonCanonical[name]; ok {
		return s
	}
	if s, ok := c.canon[name]; ok {
		return s
	}
	s := textproto.CanonicalMIMEHeaderKey(name)
	if c.canon == nil {
		c.canon = make(map[string]string)
	}
	if len(c.canon) < 64 {
		c.canon[name] = s
	}
	return s
}

// commonCanonical maps common field names from their HTTP/2 form to
// net/http's. It is built once and never written after.
var commonCanonical = commonNames()

func commonNames() map[string]string {
	names := []string{
		"accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
		"access-control-allow-credentials", "access-control-allow-headers", "access-control-allow-methods",
		"access-control-allow-origin", "access-control-expose-headers", "access-control-max-age",
		"access-control-request-headers", "access-control-request-method", "age", "allow",
		"authorization", "cache-control", "content-disposition", "content-encoding", "content-language",
		"content-length", "content-location", "content-range", "content-type", "cookie", "date",
		"etag", "expect", "expires", "from", "grpc-encoding", "grpc-accept-encoding", "grpc-message",
		"grpc-status", "grpc-timeout", "host", "if-match", "if-modified-since", "if-none-match",
		"if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards",
		"origin", "priority", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh",
		"retry-after", "server", "set-cookie", "strict-transport-security", "te", "trailer",
		"transfer-encoding", "user-agent", "vary", "via", "www-authenticate", "x-forwarded-for",
		"x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id", "x-request-id",
		"upgrade-insecure-requests", "sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-user",
	}
	canon := make(map[string]string, len(names))
	for _, n := range names {
		canon[n] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return canon
}
