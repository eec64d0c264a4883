// Package http1 is Albatross's HTTP/1.x codec (RFC 9112) for both sides of the proxy:
// request heads from clients, response heads from targets, and the framing of the
// bodies that follow them (Content-Length, chunked with trailers, until close).
//
// The parsers are strict and allocate nothing: a parsed head is a set of slices into
// the caller's buffer, valid until the caller reuses that buffer. Errors carry the
// status code ALB answers with (400, 501, 505) so the proxy never has to guess.
//
// What is accepted follows what ALB forwards rather than what a general-purpose
// server would (spec §9.2): a space in the request target, control bytes other
// than NUL and CR in targets and values, request header names that are not
// tokens (whitespace before the colon and empty names included), whitespace
// after the version, HTTP/1.2 to HTTP/1.9, HTTP/0.9, bare LF line ends and
// obs-fold are accepted, kept as received, and left to the desync classifier
// (internal/desync) and the load balancer's mitigation mode. NUL and bare CR,
// which no head may contain, are rejected here. So is a request head whose
// body length cannot be known (malformed or conflicting Content-Length,
// unknown or repeated transfer codings), but only once the whole head has been
// read, so that it can still be classified (Error.Complete).
//
// The package is tested against net/http as an oracle by fuzzing; see
// fuzz_test.go for the differences that are intended.
package http1

import "errors"

// Size limits, as ALB enforces them (spec §7.7; "K" = 1024). Every limit counts
// line ends: a line of exactly MaxHeaderLine bytes including its CRLF is
// accepted, one byte more is not.
const (
	// MaxRequestLine is the longest request line accepted (16 K).
	MaxRequestLine = 16 << 10
	// MaxHeaderLine is the longest single header line accepted (16 K).
	MaxHeaderLine = 16 << 10
	// MaxRequestHead is the largest request head accepted (64 K), request line and
	// final empty line included, and empty lines skipped before the request line
	// too.
	MaxRequestHead = 64 << 10
	// MaxResponseHead is the largest response head accepted from a target (32 K);
	// more is a 502. ALB has no separate limit on a response line, so a single
	// response line may use all of it.
	MaxResponseHead = 32 << 10
)

// ErrIncomplete reports that the buffer ends before the head does: read more and
// parse again from the start. It is never returned once the buffer proves a limit
// exceeded: that is an *Error.
var ErrIncomplete = errors.New("http1: incomplete head")

// Error is a protocol error with the status the load balancer answers it with.
// The parsers return shared, preallocated values: treat them as read-only.
type Error struct {
	// Status is 400 (malformed or too large), 501 (unsupported Transfer-Encoding)
	// or 505 (unsupported HTTP version) for requests; 502 for responses.
	Status int
	// Reason says what was wrong, for logs and tests ("header line too long").
	Reason string
	// Complete is true when the whole request head was read and parsed and only
	// its framing is unusable (Content-Length or Transfer-Encoding): the Request
	// then describes the head, HeadLen included, and can be classified.
	Complete bool
}

func (e *Error) Error() string { return "http1: " + e.Reason }

// Header is one header field exactly as received: Name without the colon, Value
// without leading and trailing whitespace. Both alias the parse buffer (with
// their capacity capped, so appending to them never overwrites it). A value
// continued with obs-fold is one slice in which the line breaks have been
// replaced by spaces.
//
// In a request, Name is every byte before the first colon, so it may be empty
// or hold bytes a token may not (whitespace before the colon, separators,
// control bytes other than NUL and CR, non-ASCII): such names are the desync
// classifier's business. Response and trailer field names are always tokens.
type Header struct {
	Name  []byte
	Value []byte
	// Folded is true when the value was continued on a following line
	// (obs-fold).
	Folded bool
}

// BodyKind is how a message body is delimited.
type BodyKind uint8

const (
	// BodyNone means the message has no body.
	BodyNone BodyKind = iota
	// BodyLength means the body is exactly ContentLength bytes. "Content-Length: 0"
	// gives BodyLength with ContentLength 0 (not BodyNone), so a declared length
	// stays distinguishable from none.
	BodyLength
	// BodyChunked means the body uses chunked transfer coding, trailers included;
	// ChunkedScanner finds its end. Any Content-Length is to be ignored and not
	// forwarded (RFC 9112 §6.3).
	BodyChunked
	// BodyUntilClose means the body runs until the sender closes the connection
	// (responses only).
	BodyUntilClose
)

// Request is a parsed request head. Reuse one Request per connection: Parse keeps
// the capacity of Headers.
type Request struct {
	// Method, Target and Proto are the three parts of the request line as sent.
	// Proto is empty for an HTTP/0.9 request line. Method ends at the first SP and
	// Proto starts after the last one, so Target may contain spaces (and control
	// bytes other than NUL and CR).
	Method []byte
	Target []byte
	Proto  []byte
	// RawProto is the version as sent, with any SP or HTAB that followed it
	// before the line end (which ALB forwards: NonCompliantVersion); Proto
	// without them. Both are empty for HTTP/0.9.
	RawProto []byte
	// Major and Minor are the parsed version: 1.0 to 1.9 (1.2 to 1.9 are to be
	// treated as 1.1), or 0.9 for a request line without version.
	Major, Minor int
	// Headers are the header fields in order, duplicates kept.
	Headers []Header
	// HeadLen is the number of bytes of the head, final empty line included (and
	// the empty lines skipped before the request line).
	HeadLen int

	// Body is how the body is framed; ContentLength is its size for BodyLength.
	Body          BodyKind
	ContentLength int64
	// Host is the value of the first Host header, nil if absent. The parser does
	// not require Host: answering an HTTP/1.1 request without one is the
	// proxy's decision (spec §7.5).
	Host []byte
	// HostCount is how many Host headers there were.
	HostCount int
	// KeepAlive is false when the client asked to close after this request
	// (Connection: close, or HTTP/1.0 without Connection: keep-alive), for
	// HTTP/0.9, and for HTTP/1.0 with a Transfer-Encoding header, whose framing
	// RFC 9112 §6.1 requires closing after.
	KeepAlive bool
	// ExpectContinue is true for Expect: 100-continue.
	ExpectContinue bool
	// Upgrade is true when the request asks for a protocol upgrade
	// (Connection: upgrade with an Upgrade header).
	Upgrade bool

	// ObsFold is true when a header value was continued on a following line
	// (obs-fold, RFC 9112 §5.2). The value has been joined, so only this flag
	// and the field's Folded still show it; the desync classifier needs them
	// (MultilineHeader).
	ObsFold bool
	// BareLF is true when some line of the head ended with LF alone instead of
	// CRLF (desync reason NonCrLfLineTermination).
	BareLF bool
}

// Response is a parsed response head from a target.
type Response struct {
	// Proto is the version as sent ("HTTP/1.1"); Major and Minor its parse. Only
	// HTTP/1.x is accepted.
	Proto        []byte
	Major, Minor int
	// Status is the three-digit code, 100 to 599; Reason the phrase as sent (may
	// be empty).
	Status int
	Reason []byte
	// Headers are the header fields in order, duplicates kept.
	Headers []Header
	// HeadLen is the number of bytes of the head, final empty line included.
	HeadLen int

	// Body is how the body is framed given the request method and status (HEAD,
	// 1xx, 204 and 304 have none); ContentLength is its size for BodyLength. A
	// Transfer-Encoding whose last coding is not chunked gives BodyUntilClose.
	// A Transfer-Encoding that lists only "identity" is ignored.
	Body          BodyKind
	ContentLength int64
	// KeepAlive is false when the target will close the connection after this
	// response (Connection: close, HTTP/1.0 without keep-alive, or a body that
	// runs until close), and for HTTP/1.0 with a Transfer-Encoding header (RFC
	// 9112 §6.1).
	KeepAlive bool
	// KeepAliveTimeout is the timeout= parameter of a Keep-Alive header in
	// seconds, or 0 when absent or not a plain number (the first Keep-Alive
	// header with a timeout parameter counts).
	KeepAliveTimeout int
}
