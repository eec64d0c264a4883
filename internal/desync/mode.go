package desync

import "fmt"

// Mode is routing.http.desync_mitigation_mode: what the load balancer does
// with requests of each class.
type Mode uint8

const (
	// Defensive (ALB's default) forwards Compliant and Acceptable requests,
	// forwards Ambiguous ones and then closes the client and target
	// connections, and blocks Severe ones.
	Defensive Mode = iota
	// Monitor forwards every request.
	Monitor
	// Strictest forwards only Compliant requests.
	Strictest
)

// The attribute values, as AWS spells them.
const (
	modeMonitor   = "monitor"
	modeDefensive = "defensive"
	modeStrictest = "strictest"
)

// ParseMode reads an attribute value: "monitor", "defensive" or "strictest".
func ParseMode(s string) (Mode, error) {
	if m := ModeOf(s); m != Defensive || s == modeDefensive {
		return m, nil
	}
	return Defensive, fmt.Errorf("desync mitigation mode %q: want monitor, defensive or strictest", s)
}

// ModeOf returns the mode an attribute value names, Defensive (ALB's default)
// for anything else. Configuration validation has already refused other
// values; this is for the request path, which must not fail.
func ModeOf(s string) Mode {
	switch s {
	case modeMonitor:
		return Monitor
	case modeStrictest:
		return Strictest
	}
	return Defensive
}

// String returns the attribute value ("defensive").
func (m Mode) String() string {
	switch m {
	case Monitor:
		return modeMonitor
	case Strictest:
		return modeStrictest
	}
	return modeDefensive
}

// Action is what the load balancer does with a request.
type Action uint8

const (
	// Forward the request; the connections stay open as HTTP allows.
	Forward Action = iota
	// ForwardThenClose forwards the request, then closes both the client
	// connection and the target connection that served it, so that neither
	// is reused after a request the two sides may have framed differently.
	ForwardThenClose
	// Reject answers 400 and closes the client connection; nothing reaches a
	// target.
	Reject
)

// decisions is ALB's table (spec §9.1): mode by class.
var decisions = [3][4]Action{
	Defensive: {Compliant: Forward, Acceptable: Forward, Ambiguous: ForwardThenClose, Severe: Reject},
	Monitor:   {Compliant: Forward, Acceptable: Forward, Ambiguous: Forward, Severe: Forward},
	Strictest: {Compliant: Forward, Acceptable: Reject, Ambiguous: Reject, Severe: Reject},
}

// Decide returns what mode m does with a request classified v. A
// Transfer-Encoding header with whitespace before its colon is rejected in
// every mode, as ALB has done since March 2025 (spec §2.1).
func (m Mode) Decide(v Verdict) Action {
	if v.TEWhitespace {
		return Reject
	}
	if int(m) >= len(decisions) || int(v.Class) >= len(decisions[0]) {
		return Reject
	}
	return decisions[m][v.Class]
}
