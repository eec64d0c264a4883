package proxy

import (
	"errors"
)

// dechunker takes the chunked transfer coding off a response body that the
// core relays verbatim (and has already checked with http1.ChunkedScanner),
// for clients whose protocol frames bodies itself (HTTP/2). Trailers are
// dropped.
type dechunker struct {
	state    int
	size     int64 // bytes left in the current chunk
	line     int   // bytes of the current size or trailer line seen
	finished bool
	out      []byte
}

const (
	dcSize    = iota // in a chunk-size line
	dcData           // in chunk data
	dcDataEnd        // in the CRLF after chunk data
	dcTrailer        // in the trailer section
)

var errBadChunk = errors.New("malformed chunked body")

// decode returns the body bytes in p. The result is valid until the next call.
func (d *dechunker) decode(p []byte) ([]byte, error) {
	d.out = d.out[:0]
	for i := 0; i < len(p); {
		if d.finished {
			return d.out, nil
		}
		switch d.state {
		case dcSize:
			ch := p[i]
			i++
			switch {
			case ch == '\n':
				d.line = 0
				if d.size == 0 {
					d.state = dcTrailer
				} else {
					d.state = dcData
				}
			case d.line >= 0 && unhex(ch) >= 0:
				if d.size > 1<<40 {
					return nil, errBadChunk
				}
				d.size = d.size<<4 | int64(unhex(ch))
			default:
				d.line = -1 // extensions, CR: ignored to the end of the line
			}
		case dcData:
			k := min(int64(len(p)-i), d.size)
			d.out = append(d.out, p[i:i+int(k)]...)
			i += int(k)
			d.size -= k
			if d.size == 0 {
				d.state = dcDataEnd
			}
		case dcDataEnd:
			if p[i] == '\n' {
				d.state = dcSize
			}
			i++
		case dcTrailer:
			ch := p[i]
			i++
			switch ch {
			case '\n':
				if d.line == 0 {
					d.finished = true
				}
				d.line = 0
			case '\r':
			default:
				d.line++
			}
		}
	}
	return d.out, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
