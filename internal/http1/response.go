package http1

// responseFields parses the field section of a response head. ALB limits only
// the whole response head (spec §7.7), so a single field line may use all of it.
var responseFields = fieldParser{
	errs:    &responseErrors,
	maxLine: MaxResponseHead,
	maxHead: MaxResponseHead,
}

// ParseResponse parses the response head at the start of buf into resp. method
// is the method of the request it answers: a response to HEAD has no body.
//
// The contract is ParseRequest's: nil with resp filled and resp.HeadLen set,
// ErrIncomplete, or an *Error (always Status 502: the proxy answers a malformed
// response with 502, spec §2.1), including as soon as the head exceeds
// MaxResponseHead. Unlike requests, leading empty lines are not skipped: RFC
// 9112 §2.2 only asks that of servers, and a target that sends them has framed
// its previous message wrongly. Slices alias buf, which obs-fold rewrites as
// ParseRequest does. ParseResponse does not allocate once resp.Headers has grown
// to the number of fields the head has.
func ParseResponse(buf []byte, resp *Response, method []byte) error {
	*resp = Response{Headers: resp.Headers[:0]}

	end, next, _, st := scanLine(buf, 0, 0, MaxResponseHead)
	if st != lineOK {
		return lineError(&responseErrors, st, errStartLineTooLong)
	}
	if code, ok := parseStatusLine(buf[:end:end], resp); !ok {
		return &responseErrors[code]
	}
	res, err := responseFields.parse(buf, next, &resp.Headers)
	if err != nil {
		return err
	}
	resp.HeadLen = res.headLen
	return resp.interpret(string(method) == "HEAD")
}

// parseStatusLine parses "HTTP-version SP 3DIGIT SP [reason-phrase]" (RFC 9112
// §4). The SP before an empty reason is often left out, so it is optional. The
// reason is kept as sent; the scanner already rejected NUL and bare CR in it.
func parseStatusLine(line []byte, resp *Response) (errCode, bool) {
	if len(line) < len("HTTP/1.1 200") || line[8] != ' ' {
		return errBadStatusLine, false
	}
	major, minor, ok := parseVersion(line[:8])
	switch {
	case !ok:
		return errBadVersion, false
	case major != 1:
		return errUnsupportedVersion, false
	}
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return errBadStatusCode, false
	}
	status := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if status < 100 || status > 599 {
		// RFC 9110 §15: "All valid status codes are within the range of 100 to
		// 599, inclusive."
		return errBadStatusCode, false
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return errBadStatusLine, false
		}
		resp.Reason = line[13:]
	}
	resp.Proto = line[:8:8]
	resp.Major, resp.Minor = major, minor
	resp.Status = status
	return 0, true
}

// interpret derives the framing and connection fields of resp from its status
// and headers, following RFC 9112 §6.3.
func (resp *Response) interpret(head bool) error {
	var (
		cl   contentLength
		te   codings
		conn connOptions
	)
	for i := range resp.Headers {
		h := &resp.Headers[i]
		switch kindOf(h.Name) {
		case fieldContentLength:
			// Checked even where it does not frame the body (HEAD, 204, 304):
			// a malformed Content-Length is a malformed response.
			if code, ok := cl.add(h.Value); !ok {
				return &responseErrors[code]
			}
		case fieldTransferEncoding:
			te.add(h.Value)
		case fieldConnection:
			conn.add(h.Value)
		case fieldKeepAlive:
			if resp.KeepAliveTimeout == 0 {
				resp.KeepAliveTimeout = keepAliveTimeout(h.Value)
			}
		}
	}
	if te.chunked > 1 {
		return &responseErrors[errChunkedTwice] // RFC 9112 §7: chunked at most once
	}

	s := resp.Status
	switch {
	case head || s < 200 || s == 204 || s == 304:
		// Rule 1: these never have a body, whatever the fields say.
		resp.Body = BodyNone
	case te.lastChunked:
		// Rule 4: chunked last; the chunked framing ends the body.
		resp.Body = BodyChunked
	case te.other:
		// Rule 4: a transfer coding without chunked last runs until close.
		resp.Body = BodyUntilClose
	case cl.seen:
		// Rule 6. (A Transfer-Encoding of only "identity" is ignored.)
		resp.Body = BodyLength
		resp.ContentLength = cl.n
	default:
		// Rule 8: no framing at all; the body runs until the target closes.
		resp.Body = BodyUntilClose
	}
	resp.KeepAlive = conn.keepAliveFor(resp.Minor, te.present) && resp.Body != BodyUntilClose
	return nil
}
