package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Health check defaults and ranges for ip target groups (alb-data-plane.md §5.1).
const (
	// HealthCheckTrafficPort is the HealthCheck.Port value that means "the port
	// each target receives traffic on".
	HealthCheckTrafficPort = "traffic-port"

	DefaultHealthCheckPath                    = "/"
	DefaultHealthCheckIntervalSeconds         = 30
	DefaultHealthCheckTimeoutSeconds          = 5
	DefaultHealthCheckHealthyThresholdCount   = 5
	DefaultHealthCheckUnhealthyThresholdCount = 2
	DefaultHealthCheckMatcher                 = "200"

	// DefaultGRPCHealthCheckPath is the health check path of a GRPC target
	// group: a method of the ALB health check service, which a gRPC server
	// answers with UNIMPLEMENTED (12) unless it implements it.
	DefaultGRPCHealthCheckPath = "/AWS.ALB/healthcheck"
	// DefaultGRPCCode is the matcher of a GRPC target group: gRPC status 12,
	// UNIMPLEMENTED, which proves that a gRPC server is up.
	DefaultGRPCCode = "12"

	// MaxHealthCheckPathLength is AWS's limit on HealthCheck.Path.
	MaxHealthCheckPathLength = 1024
)

// DefaultHealthCheck returns AWS's health check settings for a new HTTP target
// group: HTTP GET / on the traffic port every 30 s, 5 s timeout, 5 passes to become
// healthy, 2 failures to become unhealthy, healthy on 200.
func DefaultHealthCheck() HealthCheck {
	enabled := true
	return HealthCheck{
		Enabled:                 &enabled,
		Protocol:                "HTTP",
		Port:                    HealthCheckTrafficPort,
		Path:                    DefaultHealthCheckPath,
		IntervalSeconds:         DefaultHealthCheckIntervalSeconds,
		TimeoutSeconds:          DefaultHealthCheckTimeoutSeconds,
		HealthyThresholdCount:   DefaultHealthCheckHealthyThresholdCount,
		UnhealthyThresholdCount: DefaultHealthCheckUnhealthyThresholdCount,
		Matcher:                 DefaultHealthCheckMatcher,
	}
}

// Interval is IntervalSeconds as a duration.
func (h HealthCheck) Interval() time.Duration {
	return time.Duration(h.IntervalSeconds) * time.Second
}

// Timeout is TimeoutSeconds as a duration.
func (h HealthCheck) Timeout() time.Duration {
	return time.Duration(h.TimeoutSeconds) * time.Second
}

// healthCheckProblem is a problem with one health check field, named by its YAML
// key ("interval_seconds").
type healthCheckProblem struct {
	field string
	msg   string
	// ordering marks a problem between two fields rather than with one.
	ordering bool
}

// checkHealthCheck validates a health check whose unset fields are already filled
// with defaults. Each field is checked on its own, then the ordering rules
// (CheckHealthCheckTimeout) for fields that are in range.
func checkHealthCheck(h HealthCheck) []healthCheckProblem {
	var probs []healthCheckProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, healthCheckProblem{field: field, msg: fmt.Sprintf(format, args...)})
	}
	if h.Enabled != nil && !*h.Enabled {
		add("enabled", "health checks cannot be disabled for a target group of type ip, got false")
	}
	switch h.Protocol {
	case "HTTP", "HTTPS":
	default:
		add("protocol", "must be HTTP or HTTPS, got %q", h.Protocol)
	}
	if h.Port != HealthCheckTrafficPort {
		if n, ok := parseDecimal(h.Port); !ok || n < 1 || n > 65535 {
			add("port", "must be %s or a port from 1 to 65535, got %q", HealthCheckTrafficPort, h.Port)
		}
	}
	if err := checkHealthCheckPath(h.Path); err != nil {
		add("path", "%v", err)
	}
	intervalOK := inRange(h.IntervalSeconds, 5, 300)
	timeoutOK := inRange(h.TimeoutSeconds, 2, 120)
	if !intervalOK {
		add("interval_seconds", "must be an integer from 5 to 300, got %q", strconv.Itoa(h.IntervalSeconds))
	}
	if !timeoutOK {
		add("timeout_seconds", "must be an integer from 2 to 120, got %q", strconv.Itoa(h.TimeoutSeconds))
	}
	if !inRange(h.HealthyThresholdCount, 2, 10) {
		add("healthy_threshold_count", "must be an integer from 2 to 10, got %q", strconv.Itoa(h.HealthyThresholdCount))
	}
	if !inRange(h.UnhealthyThresholdCount, 2, 10) {
		add("unhealthy_threshold_count", "must be an integer from 2 to 10, got %q", strconv.Itoa(h.UnhealthyThresholdCount))
	}
	if _, err := ParseHTTPCodes(h.Matcher); err != nil {
		add("matcher", "%v", err)
	}
	if h.GrpcCode != "" {
		if _, err := ParseGRPCCodes(h.GrpcCode); err != nil {
			add("grpc_code", "%v", err)
		}
	}
	if intervalOK && timeoutOK {
		if err := CheckHealthCheckTimeout(h); err != nil {
			probs = append(probs, healthCheckProblem{field: "timeout_seconds", ordering: true,
				msg: fmt.Sprintf("must be smaller than interval_seconds (%d), got %q: a probe must finish before the next one starts", h.IntervalSeconds, strconv.Itoa(h.TimeoutSeconds))})
		}
	}
	return probs
}

// ValidateHealthCheck checks a health check after filling unset fields with
// AWS's defaults, and returns the filled settings. Problem.Path is the field's
// YAML key, such as "timeout_seconds". The ELBv2 API calls it for
// CreateTargetGroup and, on the merged settings, ModifyTargetGroup.
func ValidateHealthCheck(h HealthCheck) (HealthCheck, error) {
	h = fillHealthCheck(h)
	var ps []Problem
	for _, p := range checkHealthCheck(h) {
		ps = append(ps, Problem{Path: p.field, Message: p.msg})
	}
	if len(ps) > 0 {
		return h, &ValidationError{Problems: ps}
	}
	return h, nil
}

// fillHealthCheck sets every zero field of h to its default.
func fillHealthCheck(h HealthCheck) HealthCheck {
	d := DefaultHealthCheck()
	if h.Enabled == nil {
		h.Enabled = d.Enabled
	}
	if h.Protocol == "" {
		h.Protocol = d.Protocol
	}
	if h.Port == "" {
		h.Port = d.Port
	}
	if h.Path == "" {
		h.Path = d.Path
	}
	if h.IntervalSeconds == 0 {
		h.IntervalSeconds = d.IntervalSeconds
	}
	if h.TimeoutSeconds == 0 {
		h.TimeoutSeconds = defaultTimeoutSeconds(h.IntervalSeconds)
	}
	if h.HealthyThresholdCount == 0 {
		h.HealthyThresholdCount = d.HealthyThresholdCount
	}
	if h.UnhealthyThresholdCount == 0 {
		h.UnhealthyThresholdCount = d.UnhealthyThresholdCount
	}
	if h.Matcher == "" {
		h.Matcher = d.Matcher
	}
	return h
}

// defaultTimeoutSeconds is the timeout used when none is given: AWS's 5 s, or
// one second less than the interval when the interval is 5 s or less. AWS
// requires timeout < interval but keeps its default of 5 s even for a 5 s
// interval, so `interval_seconds: 5` alone would be rejected; here the default
// yields to the interval instead. An explicit timeout is never changed.
func defaultTimeoutSeconds(intervalSeconds int) int {
	if intervalSeconds > 0 && intervalSeconds <= DefaultHealthCheckTimeoutSeconds {
		return max(intervalSeconds-1, 2)
	}
	return DefaultHealthCheckTimeoutSeconds
}

func inRange(n, lo, hi int) bool { return n >= lo && n <= hi }

// checkHealthCheckPath accepts what can follow "GET " in a request line: 1-1024
// visible ASCII characters beginning with "/" (a query is allowed).
func checkHealthCheckPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("must begin with \"/\", got %q", p)
	case len(p) > MaxHealthCheckPathLength:
		return fmt.Errorf("must be at most %d characters, got %d", MaxHealthCheckPathLength, len(p))
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] >= 0x7f {
			return fmt.Errorf("must contain only visible ASCII characters (no spaces), got %q", p)
		}
	}
	return nil
}

// HTTPCodes is a parsed health check matcher (Matcher.HttpCode): the HTTP status
// codes that count as a passed check.
type HTTPCodes struct {
	// ranges are inclusive [lo, hi] pairs; a single code is [c, c].
	ranges [][2]int
}

// ParseHTTPCodes parses a matcher as AWS accepts it for an ALB: one code ("200"),
// a comma-separated list ("200,202") or one range ("200-299"), codes from 200 to
// 499.
func ParseHTTPCodes(s string) (HTTPCodes, error) {
	return parseCodes(s, "HTTP codes from 200 to 499 as a code (200), a list (200,202) or a range (200-299)", func(v string) (int, bool) {
		n, ok := parseDecimal(v)
		return n, ok && len(v) == 3 && n >= 200 && n <= 499
	})
}

// ParseGRPCCodes parses a GRPC target group's matcher (Matcher.GrpcCode) as
// AWS accepts it: one gRPC status code ("12"), a comma-separated list ("0,12")
// or one range ("0-99"), codes from 0 to 99. The result's Match takes a gRPC
// status code.
func ParseGRPCCodes(s string) (HTTPCodes, error) {
	return parseCodes(s, "gRPC status codes from 0 to 99 as a code (12), a list (0,12) or a range (0-99)", func(v string) (int, bool) {
		n, ok := parseDecimal(v)
		return n, ok && n >= 0 && n <= 99 && strconv.Itoa(n) == v
	})
}

// parseCodes parses one code, a comma-separated list or one low-high range,
// each code read by code; want describes what is accepted, for the error.
func parseCodes(s, want string, code func(string) (int, bool)) (HTTPCodes, error) {
	bad := func(why string) (HTTPCodes, error) {
		return HTTPCodes{}, fmt.Errorf("must be %s%s, got %q", want, why, s)
	}
	if lo, hi, isRange := strings.Cut(s, "-"); isRange {
		l, ok1 := code(lo)
		h, ok2 := code(hi)
		switch {
		case !ok1 || !ok2:
			return bad("")
		case l > h:
			return bad("; a range must go from low to high")
		}
		return HTTPCodes{ranges: [][2]int{{l, h}}}, nil
	}
	var c HTTPCodes
	for _, v := range strings.Split(s, ",") {
		n, ok := code(v)
		if !ok {
			return bad("")
		}
		c.ranges = append(c.ranges, [2]int{n, n})
	}
	return c, nil
}

// Match reports whether status is one of the codes.
func (c HTTPCodes) Match(status int) bool {
	for _, r := range c.ranges {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}
