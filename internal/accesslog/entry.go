// Package accesslog defines the ALB access log entry once: the record the proxy fills
// as a request moves through it, the encoder that writes it as one ALB log line, the
// parser that reads such lines back (ours and real ones from AWS), and the writer
// that puts lines in a file or in ALB's S3 key layout without ever blocking a request.
package accesslog

import (
	"net/netip"
	"time"
)

// Rule priorities with a special meaning in matched_rule_priority (field 21).
const (
	// PriorityDefault is the listener's default rule, logged as 0.
	PriorityDefault = 0
	// PriorityEvalError is an error during rule evaluation, logged as -1.
	PriorityEvalError = -1
	// PriorityNone is a request that never reached rule evaluation (for example a
	// malformed request), logged as "-".
	PriorityNone = -2
)

// NotMeasured is the processing time (fields 6-8) that ParseLine sets for a logged
// -1. AppendLine writes any negative duration as -1, so NotMeasured is the one
// negative value that survives a round trip.
const NotMeasured time.Duration = -1

// MaxUserAgent is how many bytes of the User-Agent value field 14 keeps (ALB's 8 KB).
const MaxUserAgent = 8192

// Entry is one request's record: every field of an ALB access log line, in ALB's
// order. The proxy reuses one Entry per client connection and resets it between
// requests; byte-slice fields may alias the proxy's buffers, so an Entry is encoded
// before they are reused. Absent values are the zero value unless a field's comment
// says otherwise, and encode as "-" (or "-1" for the processing times). AppendLine
// documents every encoding rule; ParseLine fills an Entry back from a line.
type Entry struct {
	// Type is field 1: http, https, h2, grpcs, ws or wss (ParseLine keeps unknown
	// values).
	Type string
	// Time is field 2: when the load balancer generated the response (for
	// WebSockets, when the connection closed). Encoded in UTC with microseconds;
	// the zero Time encodes as "-".
	Time time.Time
	// ELB is field 3, the load balancer resource id "app/NAME/ID".
	ELB string
	// Client is field 4, the client's IP and port.
	Client netip.AddrPort
	// Target is field 5, the chosen target; the zero value encodes as "-".
	Target netip.AddrPort
	// RequestProcessingTime, TargetProcessingTime and ResponseProcessingTime are
	// fields 6-8. A negative value encodes as -1 (ALB's "could not be measured"),
	// others in seconds with three decimals.
	RequestProcessingTime  time.Duration
	TargetProcessingTime   time.Duration
	ResponseProcessingTime time.Duration
	// ELBStatusCode is field 9, the status sent to the client (460 when nothing
	// was). 0, or anything outside 100-999, encodes as "-".
	ELBStatusCode int
	// TargetStatusCode is field 10; 0 encodes as "-".
	TargetStatusCode int
	// ReceivedBytes and SentBytes are fields 11 and 12, headers included; 0
	// encodes as 0, as ALB writes it.
	ReceivedBytes int64
	SentBytes     int64
	// Request is field 13 without its quotes: `METHOD scheme://host:port/uri
	// HTTP/x.y`. Nil (or empty) encodes as "- - -"; partly parsed forms such as
	// "- http://host:80- -" are written and read verbatim.
	Request []byte
	// UserAgent is field 14 without quotes, truncated to MaxUserAgent bytes when
	// encoded; nil encodes as "-".
	UserAgent []byte
	// SSLCipher and SSLProtocol are fields 15 and 16 ("" encodes as -).
	SSLCipher   string
	SSLProtocol string
	// TargetGroupARN is field 17 ("" encodes as -).
	TargetGroupARN string
	// TraceID is field 18, the X-Amzn-Trace-Id value as forwarded.
	TraceID []byte
	// DomainName is field 19 (SNI) and ChosenCertARN field 20.
	DomainName    string
	ChosenCertARN string
	// MatchedRulePriority is field 21: 1-50000, PriorityDefault, PriorityEvalError
	// or PriorityNone.
	MatchedRulePriority int
	// RequestCreationTime is field 22: when the load balancer received the request.
	// Encoded in UTC with millisecond resolution and six fractional digits, as ALB.
	RequestCreationTime time.Time
	// ActionsExecuted is field 23, comma-separated ("forward").
	ActionsExecuted string
	// RedirectURL is field 24.
	RedirectURL []byte
	// ErrorReason is field 25.
	ErrorReason string
	// Attempts are the targets that processed the request, in order (fields 26
	// and 27). When empty, those fields repeat fields 5 and 10. ParseLine leaves
	// it nil when the lists only repeat fields 5 and 10, so a single attempt equal
	// to Target and TargetStatusCode does not survive a round trip as such.
	Attempts []Attempt
	// Classification and ClassificationReason are fields 28 and 29: the desync
	// class (Acceptable, Ambiguous, Severe) and its reason code, both empty
	// (logged as "-") for a compliant request. A non-empty Classification is
	// what DesyncMitigationMode_NonCompliant_Request_Count counts.
	Classification       string
	ClassificationReason string
	// ConnTraceID is field 30, "TID_" and 32 lowercase hex digits.
	ConnTraceID string
	// TransformedHost, TransformedURI and RequestTransformStatus are fields 31-33.
	TransformedHost        string
	TransformedURI         string
	RequestTransformStatus string
	// NodeIP is field 34, the load balancer node's IP; written only when valid.
	NodeIP netip.Addr

	// InvalidHeaders is not logged: whether the request, once past the checks
	// before routing, had header names that are not [-A-Za-z0-9]+ (spec §7.8),
	// and what the load balancer did with them. It is what
	// DroppedInvalidHeaderRequestCount and ForwardedInvalidHeaderRequestCount
	// count. ParseLine leaves it InvalidHeadersNone.
	InvalidHeaders InvalidHeaders

	// Fields is how many space-separated fields the parsed line had (33 or 34 for
	// current ALB lines, fewer for old ones, more for lines newer than this
	// package). ParseLine sets it; AppendLine ignores it. Fields numbered above
	// Fields hold their zero value because the line did not have them, not because
	// ALB logged "-": an older 25-field line leaves ConnTraceID empty and
	// Attempts nil even though the request had both.
	Fields int
}

// InvalidHeaders says whether a request had invalid header names and whether
// they were dropped (routing.http.drop_invalid_header_fields.enabled) or
// forwarded.
type InvalidHeaders uint8

const (
	// InvalidHeadersNone: every header name was valid.
	InvalidHeadersNone InvalidHeaders = iota
	// InvalidHeadersDropped: invalid headers were removed before forwarding.
	InvalidHeadersDropped
	// InvalidHeadersForwarded: invalid headers were forwarded.
	InvalidHeadersForwarded
)

// Attempt is one target that processed a request: its address and the status it
// answered (0 when it sent none).
type Attempt struct {
	Target netip.AddrPort
	Status int
}

// Cut reports whether the parsed line ended before the 18 fields every ALB
// line has (see MinRequestFields): the fields after Fields are not known, which
// is not the same as "-".
func (e *Entry) Cut() bool { return e.Fields < MinFields }
