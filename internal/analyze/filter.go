package analyze

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// Filter selects the entries a report counts. The zero Filter selects all.
type Filter struct {
	// Statuses are elb_status_code values to keep; a value 1-5 stands for a
	// whole class (5 = 5xx). Empty keeps every status.
	Statuses []int
	// Targets keep entries whose target:port is one of these. An address with
	// port 0 matches that IP on any port.
	Targets []netip.AddrPort
	// Paths are glob patterns matched against the request path (without query),
	// and against its normalised form ("/users/{id}"). '*' matches any run of
	// bytes, '/' included; '?' matches one byte. Empty keeps every path.
	Paths []string
	// Since and Until bound the entry's time field: Since <= time < Until. Zero
	// values do not bound.
	Since, Until time.Time
	// LoadBalancers keep entries whose elb field is one of these, either the
	// full id (app/my-alb/50dc6c495c0c9188) or the name (my-alb).
	LoadBalancers []string
	// ELBOnly keeps entries whose status the load balancer generated itself:
	// no target status (target_status_code "-").
	ELBOnly bool
}

// ParseStatuses reads a --status value: comma-separated codes (460,502) or
// classes (5xx).
func ParseStatuses(s string) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if len(item) == 3 && strings.EqualFold(item[1:], "xx") && item[0] >= '1' && item[0] <= '5' {
			out = append(out, int(item[0]-'0'))
			continue
		}
		code, err := strconv.Atoi(item)
		if err != nil || code < 100 || code > 999 {
			return nil, fmt.Errorf("status %q: want a code such as 502 or a class such as 5xx", item)
		}
		out = append(out, code)
	}
	return out, nil
}

// ParseTarget reads a --target value: ip:port, or an IP alone for any port.
// IPv6 addresses with a port are written in brackets ([2001:db8::1]:8080).
func ParseTarget(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("target %q: want ip:port or an IP address", s)
	}
	return netip.AddrPortFrom(a, 0), nil
}

// ParseTime reads a --since/--until value: an RFC 3339 time
// (2025-11-03T14:00:00Z), or a duration before now (90s, 15m, 1h, 2d, 1h30m).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2025-11-03T14:00:00Z) or a duration before now (15m, 1h, 2d)", s)
	}
	return now.Add(-d), nil
}

// parseAgo reads a Go duration that may also use "d" for 24 hours.
func parseAgo(s string) (time.Duration, error) {
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 {
			return 0, fmt.Errorf("bad days")
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return total + d, nil
}

// match reports whether the filter keeps e; path is e's request path (nil
// when unreadable) and norm its normalised form.
func (f *Filter) match(e *accesslog.Entry, path, norm []byte) bool {
	if len(f.Statuses) > 0 && !f.matchStatus(e.ELBStatusCode) {
		return false
	}
	if f.ELBOnly && (e.TargetStatusCode != 0 || e.ELBStatusCode == 0) {
		return false
	}
	if !f.Since.IsZero() && (e.Time.IsZero() || e.Time.Before(f.Since)) {
		return false
	}
	if !f.Until.IsZero() && (e.Time.IsZero() || !e.Time.Before(f.Until)) {
		return false
	}
	if len(f.Targets) > 0 && !f.matchTarget(e.Target) {
		return false
	}
	if len(f.LoadBalancers) > 0 && !f.matchLB(e.ELB) {
		return false
	}
	if len(f.Paths) > 0 && !f.matchPath(path, norm) {
		return false
	}
	return true
}

// needsPath reports whether match looks at the path.
func (f *Filter) needsPath() bool { return len(f.Paths) > 0 }

func (f *Filter) matchStatus(code int) bool {
	for _, s := range f.Statuses {
		if s == code || s < 10 && code/100 == s {
			return true
		}
	}
	return false
}

func (f *Filter) matchTarget(t netip.AddrPort) bool {
	for _, want := range f.Targets {
		if want == t || want.Port() == 0 && want.Addr() == t.Addr() && t.IsValid() {
			return true
		}
	}
	return false
}

func (f *Filter) matchLB(elb string) bool {
	name := elb
	if parts := strings.Split(elb, "/"); len(parts) == 3 {
		name = parts[1]
	}
	for _, want := range f.LoadBalancers {
		if want == elb || want == name {
			return true
		}
	}
	return false
}

func (f *Filter) matchPath(path, norm []byte) bool {
	if path == nil {
		return false
	}
	for _, p := range f.Paths {
		if glob(p, path) || glob(p, norm) {
			return true
		}
	}
	return false
}

// glob matches s against pattern, where '*' matches any run of bytes and '?'
// one byte. Iterative with one backtrack point: linear in practice.
func glob(pattern string, s []byte) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
