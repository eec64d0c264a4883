package accesslog

import (
	"net/netip"
	"strconv"
	"time"
)

// AppendLine appends e as one ALB access log line, terminated by '\n', and
// returns the extended buffer. It writes fields 1-33 in ALB's order and field 34
// (ip_address) only when e.NodeIP is valid; e.Fields is ignored. It does not
// allocate when dst has room for the line.
//
// Formats, per field (spec §1.2):
//   - time (2) in UTC with microseconds, request_creation_time (22) in UTC
//     truncated to milliseconds but written with six digits, as ALB does; a zero
//     time.Time (or a year outside 0-9999) is written "-";
//   - processing times (6-8) in seconds with three decimals, truncated to the
//     millisecond; any negative duration is written -1;
//   - addresses as ip:port with IPv6 unbracketed, the zero AddrPort as "-";
//   - status codes outside 100-999 (including 0) as "-";
//   - request (13) nil or empty as "- - -"; user_agent (14) cut to MaxUserAgent
//     bytes before escaping;
//   - matched_rule_priority (21) PriorityNone as "-", any other value as the
//     number;
//   - target:port_list and target_status_code_list (26, 27) from e.Attempts, or,
//     when it is empty, fields 5 and 10 again, each list inside one pair of quotes;
//   - strings and byte slices escaped as below, empty ones as "-" (quoted or
//     not, as the field is).
//
// Escaping. ALB writes a `"` inside a quoted value as `\"` and readers treat `\`
// as an escape inside quotes. AppendLine extends that so that every byte string
// survives a round trip and a line is always one line of printable ASCII:
//   - `"` is written `\"` and `\` is written `\\`;
//   - every byte outside 0x20-0x7e (control characters, DEL, and all bytes of
//     UTF-8 or other non-ASCII text) is written `\xHH` with two lowercase hex
//     digits;
//   - in unquoted fields, and in the items of the lists in fields 26 and 27, a
//     space is written `\x20` too, since a space separates fields and items.
//     Real ALB unquoted fields never contain `\`, so unescaping them changes
//     nothing for AWS's lines.
//
// ParseLine reverses this leniently: `\xHH` accepts either hex case, and a `\`
// not followed by `"`, `\`, or `x` and two hex digits is kept literally with the
// byte after it. To find the end of a quoted value a `\` always escapes the
// next byte, so `\"` does not end a value and `\\"` does. A value that is
// exactly "-" reads back as absent, as it would in a real ALB log.
func AppendLine(dst []byte, e *Entry) []byte {
	dst = appendWord(dst, e.Type)
	dst = append(dst, ' ')
	dst = appendTime(dst, e.Time, time.Microsecond)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.ELB)
	dst = append(dst, ' ')
	dst = appendAddrPort(dst, e.Client)
	dst = append(dst, ' ')
	dst = appendAddrPort(dst, e.Target)
	dst = append(dst, ' ')
	dst = appendDuration(dst, e.RequestProcessingTime)
	dst = append(dst, ' ')
	dst = appendDuration(dst, e.TargetProcessingTime)
	dst = append(dst, ' ')
	dst = appendDuration(dst, e.ResponseProcessingTime)
	dst = append(dst, ' ')
	dst = appendStatus(dst, e.ELBStatusCode)
	dst = append(dst, ' ')
	dst = appendStatus(dst, e.TargetStatusCode)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.ReceivedBytes, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.SentBytes, 10)
	dst = append(dst, ' ')
	dst = appendRequest(dst, e.Request)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, truncate(e.UserAgent, MaxUserAgent))
	dst = append(dst, ' ')
	dst = appendWord(dst, e.SSLCipher)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.SSLProtocol)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TargetGroupARN)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.TraceID)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.DomainName)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.ChosenCertARN)
	dst = append(dst, ' ')
	dst = appendPriority(dst, e.MatchedRulePriority)
	dst = append(dst, ' ')
	dst = appendTime(dst, e.RequestCreationTime, time.Millisecond)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.ActionsExecuted)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.RedirectURL)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.ErrorReason)
	dst = append(dst, ' ')
	dst = appendTargetList(dst, e)
	dst = append(dst, ' ')
	dst = appendStatusList(dst, e)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.Classification)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.ClassificationReason)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.ConnTraceID)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.TransformedHost)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.TransformedURI)
	dst = append(dst, ' ')
	dst = appendQuoted(dst, e.RequestTransformStatus)
	if e.NodeIP.IsValid() {
		dst = append(dst, ' ')
		dst = appendAddr(dst, e.NodeIP)
	}
	return append(dst, '\n')
}

// appendWord appends an unquoted field.
func appendWord(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	return appendEscaped(dst, s, escUnquoted)
}

// appendQuoted appends a quoted field.
func appendQuoted[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	if len(s) == 0 {
		dst = append(dst, '-')
	} else {
		dst = appendEscaped(dst, s, escQuoted)
	}
	return append(dst, '"')
}

// appendRequest appends field 13, whose absent form is ALB's "- - -".
func appendRequest(dst, req []byte) []byte {
	if len(req) == 0 {
		return append(dst, `"- - -"`...)
	}
	return appendQuoted(dst, req)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// appendAddr appends an IP address. A zone (fe80::1%eth0) comes from the
// operating system, but is escaped anyway so that no address can split a field
// or a list item.
func appendAddr(dst []byte, a netip.Addr) []byte {
	zone := a.Zone()
	if zone == "" {
		return a.AppendTo(dst)
	}
	dst = a.WithZone("").AppendTo(dst)
	dst = append(dst, '%')
	return appendEscaped(dst, zone, escUnquoted)
}

// appendAddrPort appends ip:port without brackets around IPv6, as ALB does
// (readers split at the last colon), or "-" for the zero value.
func appendAddrPort(dst []byte, ap netip.AddrPort) []byte {
	if !ap.Addr().IsValid() {
		return append(dst, '-')
	}
	dst = appendAddr(dst, ap.Addr())
	dst = append(dst, ':')
	return strconv.AppendUint(dst, uint64(ap.Port()), 10)
}

// appendDuration appends seconds with three decimals, truncated to the
// millisecond, or -1 for a negative duration.
func appendDuration(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return append(dst, '-', '1')
	}
	ms := int64(d / time.Millisecond)
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	return appendDigits(dst, int(ms%1000), 3)
}

// validStatus reports whether c can be written as a three-digit status code.
func validStatus(c int) bool { return c >= 100 && c <= 999 }

func appendStatus(dst []byte, c int) []byte {
	if !validStatus(c) {
		return append(dst, '-')
	}
	return appendDigits(dst, c, 3)
}

func appendPriority(dst []byte, p int) []byte {
	if p == PriorityNone {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, int64(p), 10)
}

// appendTime appends t in UTC as 2006-01-02T15:04:05.000000Z, truncated to unit
// (Microsecond or Millisecond) but always with six fractional digits. It is
// hand-rolled because time.AppendFormat is several times slower.
func appendTime(dst []byte, t time.Time, unit time.Duration) []byte {
	// Decide "absent" on the value as it will be written: a time that
	// truncates to the zero time would otherwise be written once as a date and,
	// parsed back, as "-".
	t = t.Truncate(unit)
	if t.IsZero() {
		return append(dst, '-')
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return append(dst, '-')
	}
	hour, minute, sec := t.Clock()
	frac := t.Nanosecond() / int(unit) * int(unit/time.Microsecond)
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(month), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, frac, 6)
	return append(dst, 'Z')
}

// appendDigits appends the n low decimal digits of v >= 0, zero-padded. It
// writes two digits per step from a table: this runs some 20 times per line.
func appendDigits(dst []byte, v, n int) []byte {
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
		"8081828384858687888990919293949596979899"
	l := len(dst) + n
	dst = append(dst, "00000000"[:n]...)
	u := uint(v)
	for i := l - 1; i > l-n; i -= 2 {
		p := u % 100 * 2
		dst[i], dst[i-1] = pairs[p+1], pairs[p]
		u /= 100
	}
	if n%2 == 1 {
		dst[l-n] = byte('0' + u%10)
	}
	return dst
}

// appendTargetList appends field 26. Items are escaped like unquoted fields, so
// that a space inside one cannot be taken for the list separator.
func appendTargetList(dst []byte, e *Entry) []byte {
	dst = append(dst, '"')
	if len(e.Attempts) == 0 {
		dst = appendAddrPort(dst, e.Target)
	}
	for i := range e.Attempts {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = appendAddrPort(dst, e.Attempts[i].Target)
	}
	return append(dst, '"')
}

// appendStatusList appends field 27, item for item with field 26.
func appendStatusList(dst []byte, e *Entry) []byte {
	dst = append(dst, '"')
	if len(e.Attempts) == 0 {
		dst = appendStatus(dst, e.TargetStatusCode)
	}
	for i := range e.Attempts {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = appendStatus(dst, e.Attempts[i].Status)
	}
	return append(dst, '"')
}
