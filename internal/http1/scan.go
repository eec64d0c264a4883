package http1

import "encoding/binary"

// Character classes and the line scanner shared by request heads, response heads
// and chunked trailers.

// tcharSet lists the characters of an RFC 9110 §5.6.2 token.
const tcharSet = "!#$%&'*+-.^_`|~" +
	"0123456789" +
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
	"abcdefghijklmnopqrstuvwxyz"

// isTchar is a lookup table for tcharSet. It is filled once at package
// initialisation and only read afterwards.
var isTchar = func() (t [256]bool) {
	for i := 0; i < len(tcharSet); i++ {
		t[tcharSet[i]] = true
	}
	return t
}()

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken[S ~string | ~[]byte](b S) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !isTchar[b[i]] {
			return false
		}
	}
	return true
}

// IsToken reports whether b is a non-empty RFC 9110 token (a valid field
// name, or method).
func IsToken[S ~string | ~[]byte](b S) bool { return isToken(b) }

// isOWS reports whether c is optional whitespace (RFC 9110 §5.6.3).
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// lineStatus is the outcome of scanning for the end of a line.
type lineStatus uint8

const (
	lineOK         lineStatus = iota
	lineIncomplete            // the buffer ends inside the line
	lineTooLong               // the line cannot end within its limit
	lineNUL                   // a NUL byte, which no part of a head may contain
	lineBareCR                // a CR not followed by LF (RFC 9112 §2.2)
)

// SWAR constants: lo has every byte 0x01, hi every byte 0x80.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// hasByteBelow14 reports whether any byte of the little-endian word x is below
// 0x0E, i.e. could be NUL, LF or CR. It may also fire for HTAB and other control
// bytes (and, through borrows, for a byte above a real hit); the caller then
// looks at the bytes one by one, so such false alarms only cost time.
func hasByteBelow14(x uint64) bool {
	return (x-swarLo*0x0E)&^x&swarHi != 0
}

// scanLine looks for the end of the line that starts at buf[start], examining
// bytes from buf[from] on (from >= start; the caller has already checked the
// bytes before it). max bounds the whole line, terminator included.
//
// It returns the end of the line's content (the index of its CR or LF) and the
// start of the next line. Line ends are CRLF or a bare LF (RFC 9112 §2.2 lets a
// recipient accept a lone LF); bareLF reports the latter. A CR anywhere else,
// and a NUL anywhere, are errors: no part of an HTTP/1 head may contain them,
// and they are the bytes that parsers disagree on.
//
// The loop looks at eight bytes at a time and only falls back to single bytes
// near a possible hit, so long header values cost little more than a memchr.
func scanLine(buf []byte, start, from, max int) (end, next int, bareLF bool, st lineStatus) {
	limit := start + max
	lim := min(len(buf), limit)
	i := from
	for i < lim {
		if i+8 <= lim && !hasByteBelow14(binary.LittleEndian.Uint64(buf[i:])) {
			i += 8
			continue
		}
		stop := min(i+8, lim)
		for ; i < stop; i++ {
			switch buf[i] {
			case '\n':
				return i, i + 1, true, lineOK
			case '\r':
				switch {
				case i+1 >= len(buf):
					if i+1 >= limit {
						return 0, 0, false, lineTooLong
					}
					return 0, 0, false, lineIncomplete
				case buf[i+1] != '\n':
					return 0, 0, false, lineBareCR
				case i+2 > limit:
					return 0, 0, false, lineTooLong
				}
				return i, i + 2, false, lineOK
			case 0:
				return 0, 0, false, lineNUL
			}
		}
	}
	if lim == limit {
		return 0, 0, false, lineTooLong
	}
	return 0, 0, false, lineIncomplete
}
