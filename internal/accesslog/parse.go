package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"
)

// FieldError is a ParseLine error about one field.
type FieldError struct {
	Field int    // 1-based field number
	Value string // the field as it appeared (quotes removed), possibly shortened
	Err   error  // what was wrong
	// Name is the field's name in a connection or health-check log line;
	// empty for the access log, whose names FieldName gives.
	Name string
}

// Error reads like `field 9 elb_status_code: "abc" is not a status code`.
func (e *FieldError) Error() string {
	name := e.Name
	if name == "" {
		name = FieldName(e.Field)
	}
	if name == "" {
		name = "(unknown)"
	}
	return fmt.Sprintf("field %d %s: %q %v", e.Field, name, e.Value, e.Err)
}

// Unwrap returns the reason.
func (e *FieldError) Unwrap() error { return e.Err }

// Reasons a field is rejected; test with errors.Is.
var (
	ErrNotTime       = errors.New("is not a UTC time like 2006-01-02T15:04:05.000000Z")
	ErrNotAddrPort   = errors.New("is not ip:port or -")
	ErrNotAddr       = errors.New("is not an IP address or -")
	ErrNotDuration   = errors.New("is not seconds like 0.001 or -1")
	ErrNotStatus     = errors.New("is not a status code")
	ErrNotInteger    = errors.New("is not an integer")
	ErrNotPriority   = errors.New("is not a rule priority or -")
	ErrUnterminated  = errors.New("has no closing quote")
	ErrAfterQuote    = errors.New("has text after its closing quote")
	ErrEmptyField    = errors.New("is empty (two spaces in a row, or a trailing space)")
	ErrTooFewFields  = errors.New("too few fields")
	ErrNotTargetList = errors.New("has an item that is not ip:port or -")
	ErrNotStatusList = errors.New("has an item that is not a status code or -")
	ErrNotPort       = errors.New("is not a port number")
	ErrNotPassFail   = errors.New("is not PASS or FAIL")
)

// maxErrorValue bounds the field value quoted in an error message.
const maxErrorValue = 80

// ParseLine parses one access log line into e, overwriting all of it. It reads
// lines written by AppendLine and real ALB lines: current ones (33 fields, or 34
// with ip_address), older ones down to MinFields fields (the missing fields stay
// zero; see Entry.Fields), lines cut short after at least MinRequestFields
// fields (Entry.Cut; the fields after the cut stay zero, that is unknown), and
// newer ones, whose extra trailing fields are
// counted in e.Fields but otherwise ignored. A trailing "\n" or "\r\n" is
// removed. Any field may be quoted or not (old logs wrote fields 26 and 27
// without quotes); an IPv6 ip:port is split at its last colon; unknown type
// values and partly parsed requests (`"- http://host:80- -"`) are kept verbatim.
// Quoted and unquoted values are unescaped as described for AppendLine; "-" (or
// "- - -" for the request) reads as absent.
//
// Lifetime: ParseLine copies nothing it does not have to. Byte-slice fields
// (Request, UserAgent, TraceID, RedirectURL) and string fields alias line unless
// the value had escapes, so they are valid only while line is neither modified
// nor reused (a bufio.Scanner reuses its buffer on the next Scan). Aliased
// strings break Go's promise that strings are immutable once line changes:
// clone them (strings.Clone, bytes.Clone) before keeping them, using them as
// map keys or handing them to another goroutine. Some common values (the type,
// the TLS protocol, "forward") are returned as constants and never alias.
// ParseLine reuses e.Attempts' backing array when the line needs one.
//
// ParseLine does not allocate for lines without escapes whose lists (fields 26
// and 27) repeat fields 5 and 10, nor for other lists once e.Attempts has the
// capacity. An error is a *FieldError naming the field, or reports an empty
// line or too few fields.
func ParseLine(line []byte, e *Entry) error {
	line = trimEOL(line)
	attempts := e.Attempts[:0]
	*e = Entry{}
	if len(line) == 0 {
		return errors.New("access log line is empty")
	}
	var lists [2][]byte // raw fields 26 and 27, decoded once field 27 is known
	tz := tokenizer{line: line}
	for n := 1; tz.more(); n++ {
		tok, err := tz.next()
		if err != nil {
			if n > NumFields {
				break // a malformed field we do not know is not ours to reject
			}
			return &FieldError{Field: n, Value: shorten(tok), Err: err}
		}
		e.Fields = n
		if n == fTargetList || n == fTargetStatusList {
			lists[n-fTargetList] = tok
			continue
		}
		if n <= NumFields {
			if err := e.setField(n, tok); err != nil {
				return &FieldError{Field: n, Value: shorten(tok), Err: err}
			}
		}
	}
	if e.Fields < MinRequestFields {
		return fmt.Errorf("access log line has %d fields, want at least %d (through the request field): %w", e.Fields, MinRequestFields, ErrTooFewFields)
	}
	if e.Fields >= fTargetList {
		return e.setAttempts(lists[0], lists[1], attempts)
	}
	return nil
}

// trimEOL removes one trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return line
}

func shorten(b []byte) string {
	if len(b) > maxErrorValue {
		return string(b[:maxErrorValue]) + "..."
	}
	return string(b)
}

// tokenizer splits a line into fields separated by single spaces. A field that
// starts with `"` runs to the matching unescaped `"`.
type tokenizer struct {
	line []byte
	pos  int
	done bool
}

func (t *tokenizer) more() bool { return !t.done }

// next returns the next field's raw content (without quotes, still escaped). On
// error it returns the rest of the line for the message.
func (t *tokenizer) next() ([]byte, error) {
	rest := t.line[t.pos:]
	if len(rest) > 0 && rest[0] == '"' {
		return t.quoted(rest)
	}
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = len(rest)
	}
	if end == 0 {
		return rest, ErrEmptyField
	}
	return rest[:end], t.advance(end)
}

// quoted reads a field starting with `"`.
func (t *tokenizer) quoted(rest []byte) ([]byte, error) {
	end := closingQuote(rest)
	if end < 0 {
		return rest, ErrUnterminated
	}
	if end+1 < len(rest) && rest[end+1] != ' ' {
		return rest, ErrAfterQuote
	}
	return rest[1:end], t.advance(end + 1)
}

// advance moves past a field of n bytes and the space after it. A trailing
// space leaves an empty field for next to report.
func (t *tokenizer) advance(n int) error {
	t.pos += n
	if t.pos == len(t.line) {
		t.done = true
		return nil
	}
	t.pos++ // the separator
	return nil
}

// closingQuote returns the index in s (which starts with `"`) of the quote that
// ends the value, or -1. A quote preceded by an odd run of backslashes is
// escaped.
func closingQuote(s []byte) int {
	for i := 1; ; {
		j := bytes.IndexByte(s[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		k := q
		for k > 1 && s[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// setField interprets raw field n (not 26 or 27) into e.
func (e *Entry) setField(n int, raw []byte) error {
	var err error
	switch n {
	case fType:
		e.Type = internString(raw)
	case fTime:
		e.Time, err = parseTime(raw)
	case fELB:
		e.ELB = toString(raw)
	case fClient:
		e.Client, err = parseAddrPort(raw)
	case fTarget:
		e.Target, err = parseAddrPort(raw)
	case fRequestProcessingTime:
		e.RequestProcessingTime, err = parseDuration(raw)
	case fTargetProcessingTime:
		e.TargetProcessingTime, err = parseDuration(raw)
	case fResponseProcessingTime:
		e.ResponseProcessingTime, err = parseDuration(raw)
	case fELBStatusCode:
		e.ELBStatusCode, err = parseStatus(raw)
	case fTargetStatusCode:
		e.TargetStatusCode, err = parseStatus(raw)
	case fReceivedBytes:
		e.ReceivedBytes, err = parseCount(raw)
	case fSentBytes:
		e.SentBytes, err = parseCount(raw)
	case fRequest:
		e.Request = parseRequest(raw)
	case fUserAgent:
		e.UserAgent = toBytes(raw)
	case fSSLCipher:
		e.SSLCipher = toString(raw)
	case fSSLProtocol:
		e.SSLProtocol = internString(raw)
	case fTargetGroupARN:
		e.TargetGroupARN = toString(raw)
	case fTraceID:
		e.TraceID = toBytes(raw)
	case fDomainName:
		e.DomainName = toString(raw)
	case fChosenCertARN:
		e.ChosenCertARN = toString(raw)
	case fMatchedRulePriority:
		e.MatchedRulePriority, err = parsePriority(raw)
	case fRequestCreationTime:
		e.RequestCreationTime, err = parseTime(raw)
	case fActionsExecuted:
		e.ActionsExecuted = internString(raw)
	case fRedirectURL:
		e.RedirectURL = toBytes(raw)
	case fErrorReason:
		e.ErrorReason = toString(raw)
	case fClassification:
		e.Classification = toString(raw)
	case fClassificationReason:
		e.ClassificationReason = toString(raw)
	case fConnTraceID:
		e.ConnTraceID = toString(raw)
	case fTransformedHost:
		e.TransformedHost = toString(raw)
	case fTransformedURI:
		e.TransformedURI = toString(raw)
	case fRequestTransformStatus:
		e.RequestTransformStatus = toString(raw)
	case fNodeIP:
		e.NodeIP, err = parseAddr(raw)
	}
	return err
}

// isAbsent reports whether raw is ALB's "no value".
func isAbsent(raw []byte) bool { return len(raw) == 0 || len(raw) == 1 && raw[0] == '-' }

// toBytes returns the value of a byte-slice field: nil when absent, raw itself
// when it has no escapes, a fresh unescaped copy otherwise.
func toBytes(raw []byte) []byte {
	if isAbsent(raw) {
		return nil
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	return unescape(make([]byte, 0, len(raw)), raw)
}

// toString is toBytes for string fields. The string aliases raw when there were
// no escapes (see ParseLine for the lifetime this implies); otherwise it owns
// the freshly unescaped bytes, which nothing else references.
func toString(raw []byte) string {
	b := toBytes(raw)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// internString is toString for fields with a few common values, which are
// returned as constants so that they never alias the line.
func internString(raw []byte) string {
	switch string(raw) { // does not allocate
	case "http":
		return "http"
	case "https":
		return "https"
	case "h2":
		return "h2"
	case "grpcs":
		return "grpcs"
	case "ws":
		return "ws"
	case "wss":
		return "wss"
	case "TLSv1.2":
		return "TLSv1.2"
	case "TLSv1.3":
		return "TLSv1.3"
	case "forward":
		return "forward"
	}
	return toString(raw)
}

// parseRequest reads field 13, where only "- - -" means absent.
func parseRequest(raw []byte) []byte {
	if string(raw) == "- - -" || len(raw) == 0 {
		return nil
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	return unescape(make([]byte, 0, len(raw)), raw)
}

// scratchString views b as a string for a call that does not keep it.
func scratchString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// parseAddr reads an IP address or "-".
func parseAddr(raw []byte) (netip.Addr, error) {
	if isAbsent(raw) {
		return netip.Addr{}, nil
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		raw = unescape(nil, raw) // only a zone can need this
	}
	// netip keeps no reference to its input: zones are interned by copying.
	a, err := netip.ParseAddr(scratchString(raw))
	if err != nil {
		return netip.Addr{}, ErrNotAddr
	}
	return a, nil
}

// parseAddrPort reads ip:port (IPv6 without brackets, split at the last colon;
// brackets are tolerated) or "-".
func parseAddrPort(raw []byte) (netip.AddrPort, error) {
	if isAbsent(raw) {
		return netip.AddrPort{}, nil
	}
	colon := bytes.LastIndexByte(raw, ':')
	if colon <= 0 {
		return netip.AddrPort{}, ErrNotAddrPort
	}
	port, ok := parseUint(raw[colon+1:], 5)
	if !ok || port > 0xffff {
		return netip.AddrPort{}, ErrNotAddrPort
	}
	host := raw[:colon]
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if isAbsent(host) {
		return netip.AddrPort{}, ErrNotAddrPort
	}
	a, err := parseAddr(host)
	if err != nil {
		return netip.AddrPort{}, ErrNotAddrPort
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// parseUint reads 1 to max decimal digits.
func parseUint(b []byte, max int) (int64, bool) {
	if len(b) == 0 || len(b) > max {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseInt reads an optionally negative decimal integer that fits an int64
// with room to spare (18 digits).
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := parseUint(b, 18)
	if neg {
		v = -v
	}
	return v, ok
}

// parseStatus reads a three-digit status code or "-" (0).
func parseStatus(raw []byte) (int, error) {
	if isAbsent(raw) {
		return 0, nil
	}
	v, ok := parseUint(raw, 3)
	if !ok || len(raw) != 3 || !validStatus(int(v)) {
		return 0, ErrNotStatus
	}
	return int(v), nil
}

// parseCount reads a byte count. "-" reads as 0, leniently: ALB writes 0.
func parseCount(raw []byte) (int64, error) {
	if isAbsent(raw) {
		return 0, nil
	}
	v, ok := parseInt(raw)
	if !ok {
		return 0, ErrNotInteger
	}
	return v, nil
}

// parsePriority reads field 21: a number, or "-" for PriorityNone.
func parsePriority(raw []byte) (int, error) {
	if isAbsent(raw) {
		return PriorityNone, nil
	}
	v, ok := parseInt(raw)
	if !ok || v < -1<<31 || v > 1<<31-1 {
		return 0, ErrNotPriority
	}
	return int(v), nil
}

// parseDuration reads seconds with up to nine decimals (ALB writes three), or
// a negative number (ALB writes -1) as NotMeasured.
func parseDuration(raw []byte) (time.Duration, error) {
	if len(raw) > 0 && raw[0] == '-' {
		if _, err := parseSeconds(raw[1:]); err != nil {
			return 0, err
		}
		return NotMeasured, nil
	}
	return parseSeconds(raw)
}

// parseSeconds reads an unsigned number of seconds with up to nine decimals.
func parseSeconds(raw []byte) (time.Duration, error) {
	whole, frac, hasDot := bytes.Cut(raw, []byte{'.'})
	sec, ok := parseUint(whole, 9) // 31 years, far beyond any timeout
	if !ok || hasDot && len(frac) == 0 {
		return 0, ErrNotDuration
	}
	var ns int64
	if hasDot {
		f, ok := parseUint(frac, 9)
		if !ok {
			return 0, ErrNotDuration
		}
		for range 9 - len(frac) {
			f *= 10
		}
		ns = f
	}
	return time.Duration(sec)*time.Second + time.Duration(ns), nil
}

// parseTime reads 2006-01-02T15:04:05[.fraction]Z (up to nine fractional
// digits) or "-" (the zero time). Hand-rolled: time.Parse is several times slower.
func parseTime(raw []byte) (time.Time, error) {
	if isAbsent(raw) {
		return time.Time{}, nil
	}
	if len(raw) < 20 || raw[len(raw)-1] != 'Z' ||
		raw[4] != '-' || raw[7] != '-' || raw[10] != 'T' || raw[13] != ':' || raw[16] != ':' {
		return time.Time{}, ErrNotTime
	}
	year, ok1 := parseUint(raw[0:4], 4)
	month, ok2 := parseUint(raw[5:7], 2)
	day, ok3 := parseUint(raw[8:10], 2)
	hour, ok4 := parseUint(raw[11:13], 2)
	minute, ok5 := parseUint(raw[14:16], 2)
	sec, ok6 := parseUint(raw[17:19], 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(int(month), int(year)) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, ErrNotTime
	}
	var ns int64
	if frac := raw[19 : len(raw)-1]; len(frac) > 0 {
		f, ok := parseUint(frac[1:], 9)
		if frac[0] != '.' || !ok {
			return time.Time{}, ErrNotTime
		}
		for range 10 - len(frac) {
			f *= 10
		}
		ns = f
	}
	return time.Date(int(year), time.Month(month), int(day), int(hour), int(minute), int(sec), int(ns), time.UTC), nil
}

// daysIn returns the number of days in month m of year y (proleptic Gregorian).
func daysIn(m, y int) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// setAttempts decodes fields 26 and 27 into e.Attempts. Lists that only repeat
// fields 5 and 10 leave Attempts nil, which AppendLine writes back the same way.
func (e *Entry) setAttempts(targets, statuses []byte, buf []Attempt) error {
	n := max(countItems(targets), countItems(statuses))
	if n == 0 {
		return nil
	}
	if n == 1 {
		a, err := attemptAt(targets, statuses, 0)
		if err != nil {
			return err
		}
		if a.Target == e.Target && a.Status == e.TargetStatusCode {
			return nil
		}
	}
	for i := range n {
		a, err := attemptAt(targets, statuses, i)
		if err != nil {
			return err
		}
		buf = append(buf, a)
	}
	e.Attempts = buf
	return nil
}

// countItems counts the space-separated items of a list field.
func countItems(list []byte) int {
	if len(list) == 0 {
		return 0
	}
	return bytes.Count(list, []byte{' '}) + 1
}

// attemptAt decodes item i of both lists; a missing item is zero.
func attemptAt(targets, statuses []byte, i int) (Attempt, error) {
	var a Attempt
	var err error
	if item := listItem(targets, i); len(item) > 0 {
		if a.Target, err = parseAddrPort(item); err != nil {
			return a, &FieldError{Field: fTargetList, Value: shorten(targets), Err: ErrNotTargetList}
		}
	}
	if item := listItem(statuses, i); len(item) > 0 {
		if a.Status, err = parseStatus(item); err != nil {
			return a, &FieldError{Field: fTargetStatusList, Value: shorten(statuses), Err: ErrNotStatusList}
		}
	}
	return a, nil
}

// listItem returns item i of a space-separated list; a missing or empty item
// (two spaces) is returned empty, which reads as "-".
func listItem(list []byte, i int) []byte {
	for ; i > 0; i-- {
		sp := bytes.IndexByte(list, ' ')
		if sp < 0 {
			return nil
		}
		list = list[sp+1:]
	}
	if len(list) == 0 {
		return nil
	}
	if sp := bytes.IndexByte(list, ' '); sp >= 0 {
		list = list[:sp]
	}
	return list
}

// RawFields splits a line into its fields as written, quotes removed and
// escapes left in place: what `albatross logs explain` shows beside each
// field's meaning. It stops at the first field that cannot be split (an
// unterminated quote, an empty field) and returns the fields before it with
// the error.
func RawFields(line []byte) ([][]byte, error) {
	line = trimEOL(line)
	var out [][]byte
	if len(line) == 0 {
		return nil, errors.New("access log line is empty")
	}
	tz := tokenizer{line: line}
	for n := 1; tz.more(); n++ {
		tok, err := tz.next()
		if err != nil {
			return out, &FieldError{Field: n, Value: shorten(tok), Err: err}
		}
		out = append(out, tok)
	}
	return out, nil
}
