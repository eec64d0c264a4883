// Package desync classifies HTTP/1.x request heads by how risky their framing is,
// as AWS Application Load Balancer does for its desync mitigation mode (spec §9),
// and decides what each of the three modes does with a request of each class.
//
// The classification follows AWS's published logic (the http-desync-guardian
// library, whose test corpus the package's conformance test runs): a request is
// Compliant, Acceptable, Ambiguous or Severe, with one reason code, the one ALB
// writes to the access log's classification_reason field. It looks only at the
// head as received (header names and values before any normalisation) and it
// allocates nothing.
package desync

// Class is how risky a request's framing is, from Compliant (RFC 7230, no
// known risk) to Severe. Classes are ordered: a higher class is riskier.
type Class uint8

const (
	// Compliant: the request follows RFC 7230 and poses no known risk.
	Compliant Class = iota
	// Acceptable: the request does not follow RFC 7230 but poses no known risk.
	Acceptable
	// Ambiguous: the request does not follow RFC 7230 and HTTP implementations
	// may disagree on it.
	Ambiguous
	// Severe: the request is a high risk; ALB blocks it unless in monitor mode.
	Severe
)

var classNames = [...]string{
	Compliant:  "Compliant",
	Acceptable: "Acceptable",
	Ambiguous:  "Ambiguous",
	Severe:     "Severe",
}

// String returns the class as ALB names it ("Ambiguous").
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(?)"
}

// Reason is why a request got its class: ALB's classification_reason codes
// (spec §9.2), plus the reasons that AWS's library derives from the raw bytes
// of the head (line ends, folded lines). Reasons have the class they are
// documented with, but the class of a request comes from the Verdict.
type Reason uint8

const (
	// ReasonNone is the reason of a compliant request (logged as "-").
	ReasonNone Reason = iota

	// Acceptable reasons.

	// GetHeadZeroContentLength: "Content-Length: 0" on a GET or HEAD request.
	GetHeadZeroContentLength
	// NonCompliantHeader: a header name that is not an RFC token, or a value
	// with control characters.
	NonCompliantHeader
	// NonCompliantVersion: HTTP/0.9, HTTP/1.2 to 1.9, or a version with
	// whitespace around it.
	NonCompliantVersion
	// SpaceInURI: an unescaped space in the request target ("SpaceInUri").
	SpaceInURI
	// NonCRLFLineTermination: a line of the head ends with LF alone
	// ("NonCrLfLineTermination").
	NonCRLFLineTermination

	// Ambiguous reasons.

	// AmbiguousURI: a control character (other than NUL, CR, LF) in the
	// request target ("AmbiguousUri").
	AmbiguousURI
	// BothTEAndCL: both Transfer-Encoding and Content-Length
	// ("BothTeClPresent").
	BothTEAndCL
	// DuplicateContentLength: several Content-Length headers with the same value.
	DuplicateContentLength
	// EmptyHeader: a header with an empty name (or only whitespace before the
	// colon).
	EmptyHeader
	// SuspiciousHeader: a header name that normalises to Transfer-Encoding or
	// Content-Length ("Transfer_Encoding", "Content-Length " with a space,
	// "Transfer-Encodıng" with a dotless ı).
	SuspiciousHeader
	// UndefinedContentLengthSemantics: a non-zero Content-Length on GET or
	// HEAD, or any Content-Length on HTTP/0.9.
	UndefinedContentLengthSemantics
	// UndefinedTransferEncodingSemantics: Transfer-Encoding on GET or HEAD, or
	// on HTTP/1.0 or 0.9.
	UndefinedTransferEncodingSemantics
	// MultilineHeader: a header value continued on the next line (obs-fold),
	// except for Content-Type.
	MultilineHeader
	// MissingHeaderColon: a header line without a colon.
	MissingHeaderColon
	// MissingURI: a request line without a request target ("MissingUri").
	MissingURI

	// Severe reasons.

	// BadContentLength: a Content-Length value that is not a decimal number
	// ("1000,1000" included).
	BadContentLength
	// BadHeader: a NUL, CR or LF byte in a header name or value.
	BadHeader
	// BadTransferEncoding: a transfer coding that is not chunked, compress,
	// deflate, gzip or identity.
	BadTransferEncoding
	// BadURI: a NUL, CR or LF byte in the request target ("BadUri").
	BadURI
	// BadMethod: a method that is not an RFC token.
	BadMethod
	// BadVersion: a version that is not HTTP/1.x or HTTP/0.9.
	BadVersion
	// MultipleContentLength: Content-Length headers with different values.
	MultipleContentLength
	// MultipleTransferEncodingChunked: chunked applied more than once.
	MultipleTransferEncodingChunked

	numReasons
)

// reasonNames are the codes as ALB logs them (and AWS's library names them).
var reasonNames = [numReasons]string{
	ReasonNone:                         "-",
	GetHeadZeroContentLength:           "GetHeadZeroContentLength",
	NonCompliantHeader:                 "NonCompliantHeader",
	NonCompliantVersion:                "NonCompliantVersion",
	SpaceInURI:                         "SpaceInUri",
	NonCRLFLineTermination:             "NonCrLfLineTermination",
	AmbiguousURI:                       "AmbiguousUri",
	BothTEAndCL:                        "BothTeClPresent",
	DuplicateContentLength:             "DuplicateContentLength",
	EmptyHeader:                        "EmptyHeader",
	SuspiciousHeader:                   "SuspiciousHeader",
	UndefinedContentLengthSemantics:    "UndefinedContentLengthSemantics",
	UndefinedTransferEncodingSemantics: "UndefinedTransferEncodingSemantics",
	MultilineHeader:                    "MultilineHeader",
	MissingHeaderColon:                 "MissingHeaderColon",
	MissingURI:                         "MissingUri",
	BadContentLength:                   "BadContentLength",
	BadHeader:                          "BadHeader",
	BadTransferEncoding:                "BadTransferEncoding",
	BadURI:                             "BadUri",
	BadMethod:                          "BadMethod",
	BadVersion:                         "BadVersion",
	MultipleContentLength:              "MultipleContentLength",
	MultipleTransferEncodingChunked:    "MultipleTransferEncodingChunked",
}

// String returns the reason code as ALB logs it ("SpaceInUri"), or "-" for
// ReasonNone.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "Reason(?)"
}

// Verdict is the classification of one request.
type Verdict struct {
	// Class is the request's class and Reason the first reason found for it:
	// when several faults share the highest class, the first one found in
	// AWS's order (headers, then framing, method, version, target) names it.
	Class  Class
	Reason Reason
	// TEWhitespace reports a Transfer-Encoding header with whitespace before
	// its colon ("Transfer-Encoding : chunked"). Its class is Ambiguous
	// (SuspiciousHeader), but ALB rejects such requests with 400 in every mode
	// since March 2025 (spec §2.1), and so does Decide.
	TEWhitespace bool
}

// LogFields returns the access log's classification and classification_reason
// (fields 28 and 29) for the verdict: empty strings, which the log writes as
// "-", for a compliant request.
func (v Verdict) LogFields() (class, reason string) {
	if v.Class == Compliant {
		return "", ""
	}
	return v.Class.String(), v.Reason.String()
}

// upgrade raises the verdict to class c for reason r when c is higher than
// the class so far; at an equal class the earlier reason stays.
func (v *Verdict) upgrade(c Class, r Reason) {
	if c > v.Class {
		v.Class, v.Reason = c, r
	}
}
