package http1

import "bytes"

// requestFields parses the field section of a request head.
var requestFields = fieldParser{
	errs:    &requestErrors,
	anyName: true,
	maxLine: MaxHeaderLine,
	maxHead: MaxRequestHead,
}

// ParseRequest parses the request head at the start of buf into req.
//
// It returns nil when buf holds a whole head: req is filled and req.HeadLen is
// the number of bytes the head took, so the body or the next pipelined request
// starts at buf[req.HeadLen]. It returns ErrIncomplete when buf ends before the
// head does; the caller reads more and calls again with the grown buffer, from
// the start. When buf already proves the head malformed or too large (spec §7.7
// limits: see MaxRequestLine, MaxHeaderLine, MaxRequestHead) it returns an
// *Error at once, even mid-head, so a client cannot make the caller buffer
// forever.
//
// The slices in req alias buf. If the head uses obs-fold, ParseRequest rewrites
// the line breaks inside the folded value in buf to spaces (RFC 9112 §5.2) so
// that the value is one slice; it does so only when it returns nil or an *Error,
// never with ErrIncomplete. After an error, the contents of req are unspecified,
// except that an *Error with Complete set leaves req describing the whole head.
// ParseRequest does not allocate once req.Headers has grown to the number of
// fields the head has.
func ParseRequest(buf []byte, req *Request) error {
	*req = Request{Headers: req.Headers[:0]}

	pos := skipEmptyLines(buf)
	maxLine, tooLong := MaxRequestLine, errStartLineTooLong
	if rest := MaxRequestHead - pos; rest < maxLine {
		maxLine, tooLong = rest, errHeadTooLarge
	}
	end, next, lf, st := scanLine(buf, pos, pos, maxLine)
	if st != lineOK {
		return lineError(&requestErrors, st, tooLong)
	}
	if code, ok := parseRequestLine(buf[pos:end:end], req); !ok {
		return &requestErrors[code]
	}
	req.BareLF = lf
	if req.Major == 0 {
		// HTTP/0.9 has no header section: the request line is the whole head.
		req.HeadLen = next
		return nil
	}

	res, err := requestFields.parse(buf, next, &req.Headers)
	if err != nil {
		return err
	}
	req.HeadLen = res.headLen
	req.ObsFold = res.obsFold
	req.BareLF = req.BareLF || res.bareLF
	return req.interpret()
}

// Rendered completes req for head, an HTTP/1.1 request head that the caller
// wrote itself rather than received, as Albatross renders an HTTP/2 stream's
// request: "method SP target SP HTTP/1.1 CRLF", one "name: value CRLF" line
// per field, then CRLF. The caller has already set req.Headers to the fields,
// as slices of head with their capacity capped and values without leading or
// trailing whitespace, and passes the lengths of the method and the target.
// Rendered sets the request line fields and then derives the framing and
// connection fields as ParseRequest does, without scanning head again.
//
// The caller vouches that ParseRequest would parse head into the same
// Request: the method a token, the target free of SP and control bytes, the
// field lines valid. Its error is ParseRequest's for the same framing.
func (req *Request) Rendered(head []byte, methodLen, targetLen int) error {
	line := head[:methodLen+1+targetLen+len(" HTTP/1.1")]
	req.Method = line[:methodLen:methodLen]
	req.Target = line[methodLen+1 : methodLen+1+targetLen : methodLen+1+targetLen]
	req.Proto = line[len(line)-len("HTTP/1.1") : len(line) : len(line)]
	req.RawProto = req.Proto
	req.Major, req.Minor = 1, 1
	req.HeadLen = len(head)
	req.Body, req.ContentLength = BodyNone, 0
	req.Host, req.HostCount = nil, 0
	req.KeepAlive, req.ExpectContinue, req.Upgrade = false, false, false
	req.ObsFold, req.BareLF = false, false
	return req.interpret()
}

// skipEmptyLines returns the index of the first byte after the empty lines (CRLF
// or LF) at the start of buf. RFC 9112 §2.2: a server SHOULD ignore at least one
// empty line received before the request line; clients send one after a POST
// body. A CR not followed by LF is left for the request-line scan to reject or
// wait on. It stops at MaxRequestHead: a head that has not started by then is
// too large anyway.
func skipEmptyLines(buf []byte) int {
	pos := 0
	for pos < len(buf) && pos < MaxRequestHead {
		switch {
		case buf[pos] == '\n':
			pos++
		case buf[pos] == '\r' && pos+1 < len(buf) && buf[pos+1] == '\n':
			pos += 2
		default:
			return pos
		}
	}
	return pos
}

// parseRequestLine parses "method SP request-target SP HTTP-version" (RFC 9112
// §3), or the HTTP/0.9 form "method SP request-target". The method ends at the
// first SP and the version starts after the last one, so a target with an
// unescaped space is accepted whole: ALB forwards it (spec §9.2, SpaceInUri is
// Acceptable). The scanner already rejected NUL and bare CR; other control bytes
// in the target are left to the desync classifier (AmbiguousUri).
func parseRequestLine(line []byte, req *Request) (errCode, bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		if isToken(line) {
			return errMissingTarget, false
		}
		return errBadMethod, false
	}
	if !isToken(line[:sp]) {
		return errBadMethod, false
	}
	req.Method = line[:sp:sp]
	rest := line[sp+1:]

	// SP and HTAB after the version are kept in RawProto: ALB forwards them
	// (NonCompliantVersion).
	trimmed := rest
	for len(trimmed) > 0 && isOWS(trimmed[len(trimmed)-1]) {
		trimmed = trimmed[:len(trimmed)-1]
	}
	last := bytes.LastIndexByte(trimmed, ' ')
	if last < 0 {
		rest = trimmed
		// No version: an HTTP/0.9 simple request (spec §8.4 lists 0.9 as accepted).
		if len(rest) == 0 {
			return errMissingTarget, false
		}
		req.Target = rest
		req.Major, req.Minor = 0, 9
		return 0, true
	}
	if last == 0 {
		return errMissingTarget, false
	}
	req.Target = rest[:last:last]
	version := trimmed[last+1:]
	major, minor, ok := parseVersion(version)
	switch {
	case !ok:
		return errBadVersion, false
	case major != 1:
		// A well-formed version we do not speak, such as the HTTP/2 preface
		// "PRI * HTTP/2.0": spec §2.1 answers 505.
		return errUnsupportedVersion, false
	}
	req.Proto = version
	req.RawProto = rest[last+1:]
	req.Major, req.Minor = major, minor
	return 0, true
}

// parseVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3),
// case-sensitively.
func parseVersion(v []byte) (major, minor int, ok bool) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// interpret derives the framing and connection fields of req from its headers.
// An error about the framing leaves every other field set (Error.Complete).
func (req *Request) interpret() error {
	var (
		cl         contentLength
		clErr      *Error
		te         codings
		conn       connOptions
		hasUpgrade bool
	)
	for i := range req.Headers {
		h := &req.Headers[i]
		switch kindOf(h.Name) {
		case fieldHost:
			if req.HostCount == 0 {
				req.Host = h.Value
			}
			req.HostCount++
		case fieldContentLength:
			if code, ok := cl.add(h.Value); !ok && clErr == nil {
				clErr = &requestErrors[code]
			}
		case fieldTransferEncoding:
			te.add(h.Value)
		case fieldConnection:
			conn.add(h.Value)
		case fieldExpect:
			req.ExpectContinue = req.ExpectContinue || EqualFold(h.Value, "100-continue")
		case fieldUpgrade:
			hasUpgrade = true
		}
	}

	// RFC 9112 §6.3: Transfer-Encoding overrides Content-Length. In a request,
	// chunked must be the final coding (and, RFC 9112 §6.1, appear once); ALB
	// answers 501 to any coding but chunked and identity (spec §2.1, §8.5).
	req.KeepAlive = conn.keepAliveFor(req.Minor, te.present)
	req.Upgrade = conn.upgrade && hasUpgrade
	switch {
	case clErr != nil:
		return clErr
	case te.other:
		return &requestErrors[errUnsupportedTransferEncoding]
	case te.chunked > 1:
		return &requestErrors[errChunkedTwice]
	case te.chunked == 1:
		req.Body = BodyChunked
	case cl.seen:
		req.Body = BodyLength
		req.ContentLength = cl.n
	default:
		req.Body = BodyNone
	}
	return nil
}
