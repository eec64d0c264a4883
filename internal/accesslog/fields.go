package accesslog

import (
	"fmt"
	"net/netip"
	"strings"
)

// This file holds what the connection and health-check logs' encoders and
// parsers share: their field lists (spec §1.5 and §1.6) and one loop that
// splits a line into them. The access log has its own (format.go, parse.go),
// tuned for its size and volume.

// lineFormat describes one of the smaller logs: its field names in ALB's
// order and how many fields a whole line has at least.
type lineFormat struct {
	log   string   // "connection log", for messages
	names []string // 1-based: names[0] is unused
	min   int
}

// fields returns the number of fields the format knows.
func (f *lineFormat) fields() int { return len(f.names) - 1 }

// parse splits line into fields and hands each known one to set; fields after
// the known ones (a later version of the format) are ignored. It reports too
// few fields, malformed quoting and set's errors as a *FieldError.
func (f *lineFormat) parse(line []byte, set func(n int, raw []byte) error) (int, error) {
	line = trimEOL(line)
	if len(line) == 0 {
		return 0, fmt.Errorf("%s line is empty", f.log)
	}
	tz := tokenizer{line: line}
	n := 0
	for tz.more() {
		n++
		tok, err := tz.next()
		if err != nil {
			if n > f.fields() {
				break
			}
			return n, &FieldError{Field: n, Name: f.names[n], Value: shorten(tok), Err: err}
		}
		if n <= f.fields() {
			if err := set(n, tok); err != nil {
				return n, &FieldError{Field: n, Name: f.names[n], Value: shorten(tok), Err: err}
			}
		}
	}
	if n < f.min {
		return n, fmt.Errorf("%s line has %d fields, want at least %d (through %s): %w", f.log, n, f.min, f.names[f.min], ErrTooFewFields)
	}
	return n, nil
}

// The three logs of ALB, as FileKind names them (and as the
// albatross_log_lines_dropped_total metric labels them).
const (
	KindAccess      = "access"
	KindConnection  = "connection"
	KindHealthCheck = "health_check"
)

// FileKind names the log an ALB log file holds, from its base name (or an S3
// key): a name starting with ConnLogFilePrefix (or "conn_log.", which one
// third-party parser expects) is a connection log, one starting with
// HealthLogFilePrefix a health-check log, either possibly after the account
// id; any other name an access log.
func FileKind(name string) string {
	base := name[strings.LastIndexByte(name, '/')+1:]
	has := func(prefix string) bool { return strings.HasPrefix(base, prefix) || strings.Contains(base, "_"+prefix) }
	switch {
	case has(ConnLogFilePrefix) || has("conn_log."):
		return KindConnection
	case has(HealthLogFilePrefix):
		return KindHealthCheck
	}
	return KindAccess
}

// appendLineEnd appends the two fields that end a connection or health-check
// log line, elb and ip_address ("-" for the zero address), and the '\n'.
func appendLineEnd(dst []byte, elb string, nodeIP netip.Addr) []byte {
	dst = appendWord(dst, elb)
	dst = append(dst, ' ')
	if nodeIP.IsValid() {
		dst = appendAddr(dst, nodeIP)
	} else {
		dst = append(dst, '-')
	}
	return append(dst, '\n')
}
