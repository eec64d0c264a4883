package desync

// likeness is how close a header name is to one of the two names that decide
// a message's framing.
type likeness uint8

const (
	// distant: a different name.
	distant likeness = iota
	// sameLetters: the same letters and digits in the same order, with other
	// bytes around or between them, or a Unicode letter whose upper or lower
	// case is the ASCII one ("Transfer_Encoding", " Content-Length",
	// "Content-Length\t", "Transfer-Encodıng"). Some HTTP implementations
	// normalise such names to the real one, others do not: that is a desync.
	sameLetters
	// identical: equal under ASCII case folding.
	identical
)

// Names compared against, in lower case.
const (
	nameTE = "transfer-encoding"
	nameCL = "content-length"
)

// similarity compares name with want (lower-case letters and '-'), the way AWS's
// classifier does: letters must match in order ignoring ASCII case, where a
// letter may also be the two-byte UTF-8 form of a character that folds to it
// (ſ, U+017F, for s; ı, U+0131, for i); bytes up to SP after a letter, and
// everything up to the next letter or digit at a '-', are skipped (a '-' that
// is not there swallows the byte in its place). Anything left after the last
// letter must not contain a letter or digit.
func similarity(want string, name []byte) likeness {
	if len(name) < len(want) {
		return distant
	}
	if len(name) == len(want) && equalFoldLower(name, want) {
		return identical
	}
	i := skipToAlnum(name, 0)
	if i < len(name) && lowerASCII(name[i]) != want[0] {
		// The first letter already differs (neither name starts with a
		// letter that has a two-byte look-alike): most names end here.
		return distant
	}
	for k := 0; k < len(want); k++ {
		if i == len(name) {
			return distant
		}
		c := want[k]
		next, ok := matchLetter(c, name, i)
		if c == '-' {
			i = skipToAlnum(name, next)
			continue
		}
		if !ok {
			break
		}
		i = skipControls(name, next)
	}
	if skipToAlnum(name, i) == len(name) {
		return sameLetters
	}
	return distant
}

// matchLetter reports whether name[i:] starts with c (lower case) and where the
// match ends. A mismatch consumes one byte.
func matchLetter(c byte, name []byte, i int) (next int, ok bool) {
	if lowerASCII(name[i]) == c {
		return i + 1, true
	}
	if i+1 < len(name) {
		switch {
		case c == 's' && name[i] == 0xc5 && name[i+1] == 0xbf, // ſ
			c == 'i' && name[i] == 0xc4 && name[i+1] == 0xb1: // ı
			return i + 2, true
		}
	}
	return i + 1, false
}

// skipToAlnum returns the index of the first ASCII letter or digit in b from i
// on, or len(b).
func skipToAlnum(b []byte, i int) int {
	for i < len(b) && !isAlnum(b[i]) {
		i++
	}
	return i
}

// skipControls returns the index of the first byte above SP in b from i on,
// or len(b).
func skipControls(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' {
		i++
	}
	return i
}

// equalFoldLower reports whether b equals lower, a lower-case ASCII string,
// under ASCII case folding.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lowerASCII(b[i]) != lower[i] {
			return false
		}
	}
	return true
}

// lowerASCII folds an ASCII upper-case letter to lower case.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
