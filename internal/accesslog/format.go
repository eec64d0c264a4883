package accesslog

// This file holds what AppendLine and ParseLine share: field numbers and names,
// and the escaping rules (described in AppendLine's doc comment). Keeping them
// in one place is what makes the two directions agree (ARCHITECTURE.md
// principle 3).

// Field numbers in ALB's order (spec §1.2).
const (
	fType                   = 1
	fTime                   = 2
	fELB                    = 3
	fClient                 = 4
	fTarget                 = 5
	fRequestProcessingTime  = 6
	fTargetProcessingTime   = 7
	fResponseProcessingTime = 8
	fELBStatusCode          = 9
	fTargetStatusCode       = 10
	fReceivedBytes          = 11
	fSentBytes              = 12
	fRequest                = 13
	fUserAgent              = 14
	fSSLCipher              = 15
	fSSLProtocol            = 16
	fTargetGroupARN         = 17
	fTraceID                = 18
	fDomainName             = 19
	fChosenCertARN          = 20
	fMatchedRulePriority    = 21
	fRequestCreationTime    = 22
	fActionsExecuted        = 23
	fRedirectURL            = 24
	fErrorReason            = 25
	fTargetList             = 26
	fTargetStatusList       = 27
	fClassification         = 28
	fClassificationReason   = 29
	fConnTraceID            = 30
	fTransformedHost        = 31
	fTransformedURI         = 32
	fRequestTransformStatus = 33
	fNodeIP                 = 34

	// NumFields is the number of access log fields this package knows: ALB's
	// documented 33 plus the observed ip_address. Later fields are ignored.
	NumFields = fNodeIP

	// MinFields is the fewest fields of a whole line: one ending with trace_id
	// (field 18), ALB's format at its launch in 2016 (AWS's documented example
	// lines of that time have 18 fields; SNI support added fields 19 and 20 in
	// 2017, rule routing fields 21-24 and error_reason 25 in 2018). A shorter
	// line was cut short (copied from a console, a chat or an article).
	MinFields = fTraceID

	// MinRequestFields is the fewest fields ParseLine accepts: a line cut
	// after the request (field 13) still says what was asked, of whom, and
	// what came of it. Such a line parses with Entry.Fields below MinFields
	// (Entry.Cut reports it) and the fields after the cut unknown.
	MinRequestFields = fRequest
)

// FieldName returns ALB's name of field n (1-based), as the AWS documentation
// spells it, or "" for numbers outside 1..NumFields.
func FieldName(n int) string {
	if n < 1 || n > NumFields {
		return ""
	}
	return fieldNames[n]
}

// fieldNames is read-only.
var fieldNames = [NumFields + 1]string{
	fType:                   "type",
	fTime:                   "time",
	fELB:                    "elb",
	fClient:                 "client:port",
	fTarget:                 "target:port",
	fRequestProcessingTime:  "request_processing_time",
	fTargetProcessingTime:   "target_processing_time",
	fResponseProcessingTime: "response_processing_time",
	fELBStatusCode:          "elb_status_code",
	fTargetStatusCode:       "target_status_code",
	fReceivedBytes:          "received_bytes",
	fSentBytes:              "sent_bytes",
	fRequest:                "request",
	fUserAgent:              "user_agent",
	fSSLCipher:              "ssl_cipher",
	fSSLProtocol:            "ssl_protocol",
	fTargetGroupARN:         "target_group_arn",
	fTraceID:                "trace_id",
	fDomainName:             "domain_name",
	fChosenCertARN:          "chosen_cert_arn",
	fMatchedRulePriority:    "matched_rule_priority",
	fRequestCreationTime:    "request_creation_time",
	fActionsExecuted:        "actions_executed",
	fRedirectURL:            "redirect_url",
	fErrorReason:            "error_reason",
	fTargetList:             "target:port_list",
	fTargetStatusList:       "target_status_code_list",
	fClassification:         "classification",
	fClassificationReason:   "classification_reason",
	fConnTraceID:            "conn_trace_id",
	fTransformedHost:        "transformed_host",
	fTransformedURI:         "transformed_uri",
	fRequestTransformStatus: "request_transform_status",
	fNodeIP:                 "ip_address",
}

// Escape classes of a byte, as bits of escapeClass.
const (
	escQuoted   = 1 << iota // must be escaped inside quotes
	escUnquoted             // must be escaped in an unquoted field
)

// escapeClass is read-only: which bytes need escaping where.
var escapeClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == '"' || c == '\\' || c < 0x20 || c > 0x7e:
			t[c] = escQuoted | escUnquoted
		case c == ' ':
			t[c] = escUnquoted
		}
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// appendEscaped appends s with the bytes of class mask escaped. The fast path
// copies runs of plain bytes at once.
func appendEscaped[T ~string | ~[]byte](dst []byte, s T, mask uint8) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escapeClass[c]&mask == 0 {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, '\\', 'x', lowerHex[c>>4], lowerHex[c&0xf])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// unescape appends s to dst with escapes reversed, leniently (see AppendLine).
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			dst = append(dst, c)
			continue
		}
		switch next := s[i+1]; {
		case next == '"' || next == '\\':
			dst = append(dst, next)
			i++
		case next == 'x' && i+3 < len(s) && isHex(s[i+2]) && isHex(s[i+3]):
			dst = append(dst, unhex(s[i+2])<<4|unhex(s[i+3]))
			i += 3
		default:
			dst = append(dst, c) // a lone backslash is data
		}
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
