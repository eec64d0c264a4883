package desync

import (
	"bytes"

	"github.com/albatross-lb/albatross/internal/http1"
)

// ClassifyRaw grades a request head that the codec refused outright (a NUL or
// bare CR, a malformed method or version, a field line without a colon, no
// target), for the access log of the 400 that answers it. It splits the bytes
// the lenient way AWS's classifier does: lines end at LF (a CR before it is
// dropped, any other CR stays in the line), the request line splits at its
// first and last SP, a field line at its first colon (none: the whole line is
// the name, MissingHeaderColon), and a line that starts with whitespace
// continues the previous field (MultilineHeader). It stops at the empty line
// or at the end of head. scratch is filled with that reading (its Headers
// capacity is reused, so a reused scratch does not allocate) and classified.
func ClassifyRaw(head []byte, scratch *http1.Request) Verdict {
	*scratch = http1.Request{Headers: scratch.Headers[:0]}
	var v Verdict
	// Empty lines before the request line are skipped (RFC 9112 §2.2).
	for len(head) > 0 {
		switch {
		case head[0] == '\n':
			head = head[1:]
			continue
		case head[0] == '\r' && len(head) > 1 && head[1] == '\n':
			head = head[2:]
			continue
		}
		break
	}
	line, head, bareLF := nextLine(head)
	scratch.BareLF = bareLF
	method, rest, found := bytes.Cut(line, space)
	scratch.Method = method
	if !found || len(rest) == 0 {
		v.upgrade(Ambiguous, MissingURI)
	} else if last := bytes.LastIndexByte(rest, ' '); last < 0 {
		scratch.Target = rest // no version: HTTP/0.9
	} else if last == 0 {
		v.upgrade(Ambiguous, MissingURI)
		scratch.RawProto = rest[1:]
	} else {
		scratch.Target, scratch.RawProto = rest[:last], rest[last+1:]
	}

	for len(head) > 0 {
		line, head, bareLF = nextLine(head)
		scratch.BareLF = scratch.BareLF || bareLF
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(scratch.Headers) > 0 {
			scratch.Headers[len(scratch.Headers)-1].Folded = true
			continue
		}
		name, value, found := bytes.Cut(line, colon)
		if !found {
			v.upgrade(Ambiguous, MissingHeaderColon)
		}
		scratch.Headers = append(scratch.Headers, http1.Header{Name: name, Value: value})
	}
	// What the reading itself found comes first, as in AWS's classifier.
	c := Classify(scratch)
	v.upgrade(c.Class, c.Reason)
	v.TEWhitespace = c.TEWhitespace
	return v
}

var (
	space = []byte{' '}
	colon = []byte{':'}
)

// nextLine splits off the first line of b: its content without the line end,
// the rest after it, and whether it ended with LF alone. A last line without
// LF is returned whole.
func nextLine(b []byte) (line, rest []byte, bareLF bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return line[:len(line)-1], rest, false
	}
	return line, rest, true
}
