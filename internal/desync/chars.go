package desync

import "encoding/binary"

// Character classes of the classification, one table lookup per byte.
const (
	// charToken: an RFC 9110 token character (tchar).
	charToken = 1 << iota
	// charValue: allowed in a field value: VCHAR, SP, HTAB and obs-text
	// (0x80-0xFF).
	charValue
	// charURI: allowed in a request target as ALB reads it: any byte above SP
	// but DEL (obs-text included).
	charURI
	// charBad: NUL, CR or LF, which no part of a head may contain.
	charBad
)

// charClass holds the classes of every byte value. It is computed once at
// package initialisation and only read afterwards.
var charClass = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		var k uint8
		switch {
		case isAlnum(c), c != 0 && stringHas("!#$%&'*+-.^_`|~", c):
			k |= charToken
		}
		if (c >= ' ' && c < 0x7f) || c >= 0x80 || c == '\t' {
			k |= charValue
		}
		if c > ' ' && c != 0x7f {
			k |= charURI
		}
		if c == 0 || c == '\r' || c == '\n' {
			k |= charBad
		}
		t[i] = k
	}
	return t
}()

func stringHas(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// fieldTier is how a header's bytes grade it, before what its name means is
// considered.
type fieldTier uint8

const (
	tierCompliant    fieldTier = iota
	tierNonCompliant           // a name that is not a token, or a value with control bytes
	tierBad                    // NUL, CR or LF in the name or value
)

// headerTier grades a header by its bytes: bad if its name or value holds NUL,
// CR or LF; non-compliant if its name is not a token or its value holds other
// control bytes; compliant otherwise.
func headerTier(name, value []byte) fieldTier {
	t := bytesTier(name, charToken)
	if t == tierBad {
		return t
	}
	return max(t, bytesTier(value, charValue))
}

// bytesTier grades b by whether all its bytes are in class allowed: bad at
// the first NUL, CR or LF, non-compliant if another byte is outside it.
func bytesTier(b []byte, allowed uint8) fieldTier {
	if allowed == charValue {
		// Values are long and almost always plain: skip eight bytes at a time
		// while none is a control byte (below SP, or DEL).
		for len(b) >= 8 && !hasControl(binary.LittleEndian.Uint64(b)) {
			b = b[8:]
		}
	}
	t := tierCompliant
	for _, c := range b {
		k := charClass[c]
		if k&allowed == 0 {
			if k&charBad != 0 {
				return tierBad
			}
			t = tierNonCompliant
		}
	}
	return t
}

// SWAR constants: lo has every byte 0x01, hi every byte 0x80.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// hasControl reports whether a byte of the word x may be below SP or DEL.
// Bytes from 0x80 up never count; borrows may flag a byte above a real hit,
// which only sends the caller to its byte-by-byte loop.
func hasControl(x uint64) bool {
	below := (x - swarLo*' ') &^ x & swarHi
	del := x ^ (swarLo * 0x7f)
	return below|((del-swarLo)&^del&swarHi) != 0
}
