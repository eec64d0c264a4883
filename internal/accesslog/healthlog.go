package accesslog

import (
	"net/netip"
	"strconv"
	"time"
)

// HealthEntry is one line of ALB's health-check log (spec §1.6): one per
// health check of one target by one load balancer node. Fields are in ALB's
// order; absent values encode as "-".
type HealthEntry struct {
	// Type is how the target was checked: http, https, h2 or grpc (ALB also
	// writes lambda).
	Type string
	// Time is when the check started (µs, UTC).
	Time time.Time
	// Latency is how long the check took, written in seconds with nine
	// decimals.
	Latency time.Duration
	// Target is target_addr, ip:port.
	Target netip.AddrPort
	// TargetGroup is target_group_id, which ALB fills with the target
	// group's name.
	TargetGroup string
	// Pass is status: PASS or FAIL.
	Pass bool
	// StatusCode is status_code, the code the target answered (0: none, "-").
	StatusCode int
	// Reason is reason_code: "" (written "-") on a pass, else one of the
	// HealthReason* values.
	Reason string
	// ELB is the load balancer resource id "app/NAME/ID".
	ELB string
	// NodeIP is ip_address, the load balancer node's IP.
	NodeIP netip.Addr
}

// The reason codes of the health-check log (spec §1.6).
const (
	HealthReasonTimedOut               = "TimedOut"
	HealthReasonConnectionReset        = "ConnectionReset"
	HealthReasonResponseCodeMismatch   = "ResponseCodeMismatch"
	HealthReasonResponseStringMismatch = "ResponseStringMismatch"
	HealthReasonInternalError          = "InternalError"
	HealthReasonTargetError            = "TargetError"
	HealthReasonGRPCStatusHeaderEmpty  = "GRPCStatusHeaderEmpty"
	HealthReasonGRPCUnexpectedStatus   = "GRPCUnexpectedStatus"
)

// HealthLogFilePrefix is the file name prefix of ALB's health-check log files.
const HealthLogFilePrefix = "health_check_log_"

// Health-check log field numbers in ALB's order.
const (
	hType = iota + 1
	hTime
	hLatency
	hTarget
	hTargetGroup
	hStatus
	hStatusCode
	hReason
	hELB
	hNodeIP
)

// HealthFields is the number of health-check log fields this package knows.
const HealthFields = hNodeIP

// healthFormat is the health-check log's field list. AWS's example line ends
// with reason_code (8 fields); elb and ip_address follow in the field list.
var healthFormat = lineFormat{log: "health-check log", min: hReason, names: []string{
	"", "type", "time", "latency", "target_addr", "target_group_id", "status", "status_code",
	"reason_code", "elb", "ip_address",
}}

// AppendHealthLine appends e as one health-check log line terminated by '\n'.
func AppendHealthLine(dst []byte, e *HealthEntry) []byte {
	dst = appendWord(dst, e.Type)
	dst = append(dst, ' ')
	dst = appendTime(dst, e.Time, time.Microsecond)
	dst = append(dst, ' ')
	dst = appendNanoSeconds(dst, e.Latency)
	dst = append(dst, ' ')
	dst = appendAddrPort(dst, e.Target)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TargetGroup)
	dst = append(dst, ' ')
	if e.Pass {
		dst = append(dst, "PASS"...)
	} else {
		dst = append(dst, "FAIL"...)
	}
	dst = append(dst, ' ')
	dst = appendStatus(dst, e.StatusCode)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.Reason)
	dst = append(dst, ' ')
	return appendLineEnd(dst, e.ELB, e.NodeIP)
}

// appendNanoSeconds appends seconds with nine decimals ("0.019584011"); a
// negative duration as 0.
func appendNanoSeconds(dst []byte, d time.Duration) []byte {
	d = max(d, 0)
	dst = strconv.AppendInt(dst, int64(d/time.Second), 10)
	dst = append(dst, '.')
	ns := int(d % time.Second)
	dst = append(dst, byte('0'+ns/1e8)) // appendDigits writes at most eight
	return appendDigits(dst, ns%1e8, 8)
}

// ParseHealthLine parses one health-check log line into e, overwriting all of
// it: lines AppendHealthLine writes and ALB's, with or without the trailing
// elb and ip_address (later fields are ignored). String fields alias line
// unless they had escapes, with the lifetime ParseLine describes. An error is
// a *FieldError naming the field, or says the line has too few fields.
func ParseHealthLine(line []byte, e *HealthEntry) error {
	*e = HealthEntry{}
	_, err := healthFormat.parse(line, func(n int, raw []byte) error {
		var err error
		switch n {
		case hType:
			e.Type = internString(raw)
		case hTime:
			e.Time, err = parseTime(raw)
		case hLatency:
			e.Latency, err = parseSeconds(raw)
		case hTarget:
			e.Target, err = parseAddrPort(raw)
		case hTargetGroup:
			e.TargetGroup = toString(raw)
		case hStatus:
			switch string(raw) {
			case "PASS":
				e.Pass = true
			case "FAIL":
			default:
				err = ErrNotPassFail
			}
		case hStatusCode:
			e.StatusCode, err = parseStatus(raw)
		case hReason:
			e.Reason = toString(raw)
		case hELB:
			e.ELB = toString(raw)
		case hNodeIP:
			e.NodeIP, err = parseAddr(raw)
		}
		return err
	})
	return err
}

// LogHealth encodes a health-check log entry and queues it, exactly as Log
// does for access log entries (it never blocks). Open the Writer with
// FilePrefix HealthLogFilePrefix for ALB's file names in Directory mode.
func (w *Writer) LogHealth(e *HealthEntry) { w.put(nil, nil, e) }
