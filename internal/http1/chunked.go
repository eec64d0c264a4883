package http1

// chunkState is where a ChunkedScanner is in the chunked body grammar of RFC
// 9112 §7.1:
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//	last-chunk   = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
type chunkState uint8

const (
	csSizeStart     chunkState = iota // first hex digit of a chunk size
	csSize                            // more hex digits, or what follows them
	csSizeWS                          // whitespace after the size or an extension
	csExtNameStart                    // after ";": whitespace, then an extension name
	csExtName                         // in an extension name
	csExtNameWS                       // whitespace after an extension name
	csExtValueStart                   // after "=": whitespace, then a value
	csExtToken                        // in a token value
	csExtQuoted                       // in a quoted-string value
	csExtQuotedPair                   // after a backslash in a quoted-string
	csSizeLF                          // after the CR that ends a size line
	csData                            // in chunk data
	csDataEnd                         // CRLF after chunk data
	csDataLF                          // after the CR that follows chunk data
	csTrailerStart                    // start of a trailer line or of the final empty line
	csTrailerName                     // in a trailer field name
	csTrailerValue                    // in a trailer field value (or continuation)
	csTrailerLF                       // after the CR that ends a trailer line
	csEndLF                           // after the CR of the final empty line
	csDone                            // the body is complete
)

// ChunkedScanner finds the end of a chunked message body (RFC 9112 §7.1) that the
// proxy relays verbatim. It is an incremental state machine: feed it the bytes as
// they arrive, split anywhere, and it says how many belong to the body and when
// the body, trailer section and final empty line are complete. It decodes
// nothing and allocates nothing. The zero value is ready to scan a body; Reset
// prepares it for the next one.
//
// It is strict where a lenient reading could make it disagree with the target
// about where the body ends: the chunk size is 1 to 16 hex digits, chunk
// extensions must follow the grammar (token or quoted-string values), a bare CR
// is an error, and trailer fields follow the header-field rules of ParseRequest.
// Unlike in heads, a bare LF is an error: the body is relayed verbatim, and a
// target that reads "5\r\nhell\r\n0" with a different idea of line ends than
// ours would find another message inside it (Go's net/http rejects it too). A
// chunk-size line or a trailer line may not exceed MaxHeaderLine bytes, line end
// included, nor the trailer section MaxRequestHead.
type ChunkedScanner struct {
	state     chunkState
	digits    uint8  // hex digits of the chunk size so far
	sawField  bool   // a trailer field was seen, so a continuation line is allowed
	remaining uint64 // the chunk size while parsing it, then the data bytes left
	dataLen   uint64 // chunk data bytes seen, for tests
	line      int    // bytes of the current size or trailer line so far
	trailer   int    // bytes of the trailer section so far
	err       *Error
}

// Reset prepares s to scan a new body.
func (s *ChunkedScanner) Reset() { *s = ChunkedScanner{} }

// Scan consumes the bytes at the start of p that belong to the chunked body and
// returns how many it consumed. done is true once the final empty line has been
// consumed; Scan never consumes past it, so p[n:] then belongs to whatever
// follows the body. When done is false, n == len(p): every byte was part of the
// body and more are needed. On malformed input it returns an *Error with Status
// 400 (the proxy answers 502 when the body is a response's), n being the bytes
// before the offending one; the error then sticks until Reset.
func (s *ChunkedScanner) Scan(p []byte) (n int, done bool, err error) {
	if s.err != nil {
		return 0, false, s.err
	}
	i := 0
	for i < len(p) {
		if s.state == csDone {
			return i, true, nil
		}
		if s.state == csData {
			// The bulk of a body: skip the data in one step.
			k := uint64(len(p) - i)
			if k > s.remaining {
				k = s.remaining
			}
			i += int(k)
			s.remaining -= k
			s.dataLen += k
			if s.remaining == 0 {
				s.state = csDataEnd
			}
			continue
		}
		if e := s.step(p[i]); e != nil {
			s.err = e
			return i, false, e
		}
		i++
	}
	return i, s.state == csDone, nil
}

// step advances the state machine over one byte of framing.
func (s *ChunkedScanner) step(c byte) *Error {
	switch s.state {
	case csSizeStart, csSize, csSizeWS, csExtNameStart, csExtName, csExtNameWS,
		csExtValueStart, csExtToken, csExtQuoted, csExtQuotedPair, csSizeLF:
		s.line++
		if s.line > MaxHeaderLine {
			return errChunkLineLong
		}
		return s.sizeLine(c)
	case csDataEnd:
		switch c {
		case '\r':
			s.state = csDataLF
		case '\n':
			return errChunkBareLF
		default:
			return errChunkDataEnd
		}
	case csDataLF:
		if c != '\n' {
			return errChunkBareCR
		}
		s.state = csSizeStart
	default:
		s.line++
		s.trailer++
		if s.line > MaxHeaderLine {
			return errTrailerLineLong
		}
		if s.trailer > MaxRequestHead {
			return errTrailerTooLarge
		}
		return s.trailerLine(c)
	}
	return nil
}

// sizeLine advances over one byte of a chunk-size line: the size, then any
// extensions, then the line end.
func (s *ChunkedScanner) sizeLine(c byte) *Error {
	switch s.state {
	case csSizeStart:
		v, ok := hexValue(c)
		if !ok {
			return errChunkSize
		}
		s.remaining, s.digits = uint64(v), 1
		s.state = csSize
		return nil

	case csSize:
		if v, ok := hexValue(c); ok {
			// 16 digits fill a uint64, so the value cannot overflow.
			if s.digits == 16 {
				return errChunkSizeLong
			}
			s.remaining = s.remaining<<4 | uint64(v)
			s.digits++
			return nil
		}
		return s.afterItem(c, errChunkSize)

	case csSizeWS:
		// BWS before ";" (RFC 9112 §7.1.1). Whitespace before the line end is not
		// in the grammar but harmless, and nginx and net/http accept it.
		return s.afterItem(c, errChunkExtension)

	case csExtNameStart:
		switch {
		case isOWS(c):
		case isTchar[c]:
			s.state = csExtName
		default:
			return errChunkExtension
		}

	case csExtName:
		switch {
		case isTchar[c]:
		case c == '=':
			s.state = csExtValueStart
		case isOWS(c):
			s.state = csExtNameWS
		default:
			return s.afterItem(c, errChunkExtension)
		}

	case csExtNameWS:
		if c == '=' {
			s.state = csExtValueStart
			return nil
		}
		return s.afterItem(c, errChunkExtension)

	case csExtValueStart:
		switch {
		case isOWS(c):
		case isTchar[c]:
			s.state = csExtToken
		case c == '"':
			s.state = csExtQuoted
		default:
			return errChunkExtension
		}

	case csExtToken:
		if isTchar[c] {
			return nil
		}
		return s.afterItem(c, errChunkExtension)

	case csExtQuoted:
		switch {
		case c == '"':
			s.state = csSizeWS
		case c == '\\':
			s.state = csExtQuotedPair
		case !isQdtext(c):
			return errChunkExtension
		}

	case csExtQuotedPair:
		// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
		if c != '\t' && (c < ' ' || c == 0x7f) {
			return errChunkExtension
		}
		s.state = csExtQuoted

	case csSizeLF:
		if c != '\n' {
			return errChunkBareCR
		}
		s.endSizeLine()
	}
	return nil
}

// afterItem handles the bytes that may follow the size, an extension name or an
// extension value: whitespace, ";" for another extension, or the line end.
// Anything else is the error bad.
func (s *ChunkedScanner) afterItem(c byte, bad *Error) *Error {
	switch {
	case isOWS(c):
		s.state = csSizeWS
	case c == ';':
		s.state = csExtNameStart
	case c == '\r':
		s.state = csSizeLF
	case c == '\n':
		return errChunkBareLF
	default:
		return bad
	}
	return nil
}

// endSizeLine moves on from a complete chunk-size line: to the data, or, after
// the last chunk (size 0), to the trailer section.
func (s *ChunkedScanner) endSizeLine() {
	s.line = 0
	if s.remaining == 0 {
		s.state = csTrailerStart
		return
	}
	s.state = csData
}

// trailerLine advances over one byte of the trailer section: field lines with
// the same rules as a head's, then the empty line that ends the body.
func (s *ChunkedScanner) trailerLine(c byte) *Error {
	switch s.state {
	case csTrailerStart:
		switch {
		case c == '\r':
			s.state = csEndLF
		case c == '\n':
			return errChunkBareLF
		case isOWS(c):
			// obs-fold continues the previous trailer field (RFC 9112 §5.2).
			if !s.sawField {
				return errTrailerFold
			}
			s.state = csTrailerValue
		case isTchar[c]:
			s.state = csTrailerName
		default:
			return errTrailerName
		}

	case csTrailerName:
		switch {
		case isTchar[c]:
		case c == ':':
			s.state = csTrailerValue
		case isOWS(c):
			return errTrailerSpace
		case c == '\r' || c == '\n':
			return errTrailerColon
		default:
			return errTrailerName
		}

	case csTrailerValue:
		switch c {
		case '\r':
			s.state = csTrailerLF
		case '\n':
			return errChunkBareLF
		case 0:
			return errTrailerNUL
		}

	case csTrailerLF:
		if c != '\n' {
			return errChunkBareCR
		}
		s.endTrailerLine()

	case csEndLF:
		if c != '\n' {
			return errChunkBareCR
		}
		s.state = csDone
	}
	return nil
}

func (s *ChunkedScanner) endTrailerLine() {
	s.line = 0
	s.sawField = true
	s.state = csTrailerStart
}

// hexValue returns the value of the hex digit c.
func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isQdtext reports whether c may appear unescaped in a quoted-string (RFC 9110
// §5.6.4): HTAB, SP, visible characters except '"' and '\', and obs-text.
func isQdtext(c byte) bool {
	switch {
	case c == '\t' || c == ' ' || c == '!':
		return true
	case c == '"' || c == '\\' || c == 0x7f:
		return false
	}
	return c >= 0x23
}
