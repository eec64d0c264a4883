package http1

import "math"

// Interpretation of the header fields that decide framing and connection
// handling, shared by requests and responses.

// fieldKind identifies the header fields the parsers interpret.
type fieldKind uint8

const (
	fieldOther fieldKind = iota
	fieldHost
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldKeepAlive
	fieldExpect
	fieldUpgrade
)

// kindOf classifies a field name. Switching on the length first means most
// names are dismissed without comparing a single byte.
func kindOf(name []byte) fieldKind {
	switch len(name) {
	case 4:
		if EqualFold(name, "Host") {
			return fieldHost
		}
	case 6:
		if EqualFold(name, "Expect") {
			return fieldExpect
		}
	case 7:
		if EqualFold(name, "Upgrade") {
			return fieldUpgrade
		}
	case 10:
		if EqualFold(name, "Connection") {
			return fieldConnection
		}
		if EqualFold(name, "Keep-Alive") {
			return fieldKeepAlive
		}
	case 14:
		if EqualFold(name, "Content-Length") {
			return fieldContentLength
		}
	case 17:
		if EqualFold(name, "Transfer-Encoding") {
			return fieldTransferEncoding
		}
	}
	return fieldOther
}

// contentLength accumulates the Content-Length fields of a head.
type contentLength struct {
	seen  bool
	value []byte // the first value, to compare the others with
	n     int64
}

// add records one Content-Length value. RFC 9112 §6.3 makes an invalid value
// unrecoverable; several fields are accepted only when their values are the
// same octets (spec §9.2: DuplicateContentLength is forwarded, differing values
// are MultipleContentLength, Severe). A list such as "42, 42" is invalid
// (BadContentLength).
func (cl *contentLength) add(v []byte) (errCode, bool) {
	n, ok := parseDecimal(v)
	if !ok {
		return errBadContentLength, false
	}
	if cl.seen {
		if string(cl.value) != string(v) {
			return errConflictingContentLength, false
		}
		return 0, true
	}
	cl.seen, cl.value, cl.n = true, v, n
	return 0, true
}

// parseDecimal parses 1*DIGIT into a non-negative int64: no sign, no
// whitespace, no overflow.
func parseDecimal(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// codings accumulates the transfer codings listed by all Transfer-Encoding
// fields of a head, in order (RFC 9112 §6.1: the fields form one list).
type codings struct {
	present     bool // there is a Transfer-Encoding field
	chunked     int  // how many times chunked is listed
	other       bool // a coding other than chunked and identity, or an empty field
	lastChunked bool // the last coding other than identity is chunked
}

// add records the codings of one Transfer-Encoding value. "identity" is
// skipped: it was removed from the registry by RFC 7230 and ALB accepts it as a
// no-op (spec §8.5). A field that lists nothing at all counts as an unknown
// coding.
func (t *codings) add(v []byte) {
	t.present = true
	listed := false
	for len(v) > 0 {
		var item []byte
		item, v = NextListItem(v)
		switch {
		case len(item) == 0:
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		case EqualFold(item, "chunked"):
			t.chunked++
			t.lastChunked = true
		case EqualFold(item, "identity"):
		default:
			t.other = true
			t.lastChunked = false
		}
		listed = true
	}
	if !listed {
		t.other = true
	}
}

// connOptions are the connection options of all Connection fields of a head
// (RFC 9110 §7.6.1) that the parsers care about.
type connOptions struct {
	close, keepAlive, upgrade bool
}

func (c *connOptions) add(v []byte) {
	for len(v) > 0 {
		var item []byte
		item, v = NextListItem(v)
		switch {
		case EqualFold(item, "close"):
			c.close = true
		case EqualFold(item, "keep-alive"):
			c.keepAlive = true
		case EqualFold(item, "upgrade"):
			c.upgrade = true
		}
	}
}

// keepAlive decides whether the connection persists after a message of version
// 1.minor with these connection options (RFC 9112 §9.3): HTTP/1.1 and later
// persist unless "close" is given; HTTP/1.0 only with "keep-alive". te reports a
// Transfer-Encoding field: in HTTP/1.0 its framing is faulty and the connection
// must be closed after the message (RFC 9112 §6.1).
func (c *connOptions) keepAliveFor(minor int, te bool) bool {
	switch {
	case c.close:
		return false
	case minor == 0:
		return c.keepAlive && !te
	}
	return true
}

// NextListItem splits the first element off a comma-separated list (RFC 9110
// §5.6.1) and returns it without surrounding whitespace, and the rest (nil
// after the last element). Empty elements come back empty: callers skip them.
func NextListItem(v []byte) (item, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

// keepAliveTimeout returns the timeout parameter of a Keep-Alive value
// ("timeout=5, max=100"), or 0 when it is missing or not a plain number.
// Keep-Alive is not standardised (RFC 2068 §19.7.1.1 described it); this is the
// form servers send.
func keepAliveTimeout(v []byte) int {
	for len(v) > 0 {
		var item []byte
		item, v = NextListItem(v)
		eq := -1
		for i, c := range item {
			if c == '=' {
				eq = i
				break
			}
		}
		if eq < 0 || !EqualFold(trimOWS(item[:eq]), "timeout") {
			continue
		}
		val := trimOWS(item[eq+1:])
		if len(val) > 9 { // far beyond any real timeout, and it keeps n in an int32
			return 0
		}
		n, ok := parseDecimal(val)
		if !ok {
			return 0
		}
		return int(n)
	}
	return 0
}
