package http1

import "bytes"

// Small allocation-free helpers the proxy uses on parsed heads.

// EqualFold reports whether b equals s under ASCII case folding. HTTP field
// names, methods' well-known spellings and list tokens are ASCII; bytes outside
// ASCII compare exactly (unlike bytes.EqualFold, no Unicode folding, so
// "Transfer-Encodıng" with a dotless ı never matches). s may be a string or a
// byte slice (another header's name, say), without conversion.
func EqualFold[S ~string | ~[]byte](b []byte, s S) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if lower(x) != lower(y) {
			return false
		}
	}
	return true
}

// TrimOWS returns b without leading and trailing optional whitespace (SP and
// HTAB, RFC 9110 §5.6.3).
func TrimOWS(b []byte) []byte { return trimOWS(b) }

// lower folds an ASCII upper-case letter to lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// HasToken reports whether the comma-separated list value (RFC 9110 §5.6.1)
// has an element equal to token, ignoring ASCII case and the whitespace around
// elements. Use it on each field line of a list-valued field such as
// Connection. token may be a string or a byte slice.
func HasToken[S ~string | ~[]byte](value []byte, token S) bool {
	for len(value) > 0 {
		var item []byte
		item, value = NextListItem(value)
		if EqualFold(item, token) {
			return true
		}
	}
	return false
}

// IsHopByHop reports whether name is a hop-by-hop field that a proxy must not
// forward (RFC 9110 §7.6.1, plus the Keep-Alive and Proxy-Connection fields of
// older practice, and the Proxy-Authenticate/Proxy-Authorization pair that only
// concerns the next hop). Fields named in a Connection header are hop-by-hop
// too; that depends on the message and is the caller's check.
func IsHopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return EqualFold(name, "TE")
	case 7:
		return EqualFold(name, "Trailer") || EqualFold(name, "Upgrade")
	case 10:
		return EqualFold(name, "Connection") || EqualFold(name, "Keep-Alive")
	case 16:
		return EqualFold(name, "Proxy-Connection")
	case 17:
		return EqualFold(name, "Transfer-Encoding")
	case 18:
		return EqualFold(name, "Proxy-Authenticate")
	case 19:
		return EqualFold(name, "Proxy-Authorization")
	}
	return false
}

// Header returns the value of the first header field called name (ASCII case
// ignored), or nil if there is none.
func (r *Request) Header(name string) []byte { return firstValue(r.Headers, name) }

// Header returns the value of the first header field called name (ASCII case
// ignored), or nil if there is none.
func (r *Response) Header(name string) []byte { return firstValue(r.Headers, name) }

func firstValue(hs []Header, name string) []byte {
	for i := range hs {
		if EqualFold(hs[i].Name, name) {
			return hs[i].Value
		}
	}
	return nil
}

// CookieValue returns the value of the first cookie called name in the Cookie
// headers among headers, or nil. It allocates nothing; the value aliases the
// header.
func CookieValue(headers []Header, name string) []byte {
	for _, h := range headers {
		if !EqualFold(h.Name, "Cookie") {
			continue
		}
		for v := h.Value; len(v) > 0; {
			pair := v
			if i := bytes.IndexByte(v, ';'); i >= 0 {
				pair, v = v[:i], v[i+1:]
			} else {
				v = nil
			}
			pair = bytes.TrimLeft(pair, " \t")
			if len(pair) > len(name) && pair[len(name)] == '=' && string(pair[:len(name)]) == name {
				return bytes.TrimRight(pair[len(name)+1:], " \t")
			}
		}
	}
	return nil
}
