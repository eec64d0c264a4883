// Package health is Albatross's view of its targets: active health checks as an
// Application Load Balancer runs them, the state machine that turns their
// results into ALB's target states and reason codes, and the target lifecycle
// (registration, draining for the deregistration delay, removal).
//
// The state machine (Observe and the Record methods) is a pure function of its
// inputs; the probers in this package do the network I/O and feed it. Each
// registered target has one *Status, kept in a Registry across configuration
// changes, which the data plane reads without locking: whether the target may
// receive new requests, since when it is healthy (slow start), how many
// requests are in flight on it (draining, least outstanding requests) and how
// many connections to it failed (TargetConnectionErrorCount).
//
// Checks speak the protocol the target group's targets speak: HTTP/1.1 (check)
// for HTTP1 groups, HTTP/2 (checkH2) for HTTP2 groups, and a gRPC call judged
// by grpc-status for GRPC groups. Every check uses a new connection.
package health

import (
	"strconv"
)

// State is a target's health state, as DescribeTargetHealth reports it.
type State uint32

// The target states of an Application Load Balancer (alb-data-plane.md §5.3).
const (
	// StateInitial: registered, not yet through its first health check.
	StateInitial State = iota
	// StateHealthy: passing its health checks; receives new requests.
	StateHealthy
	// StateUnhealthy: failed UnhealthyThresholdCount checks in a row.
	StateUnhealthy
	// StateUnused: not registered, or its target group is not used by any
	// listener (no health checks run).
	StateUnused
	// StateDraining: deregistered; in-flight requests may finish until the
	// deregistration delay ends. Receives no new requests.
	StateDraining
	// StateUnavailable: health checks are disabled (Lambda targets only on
	// ALB; an ip target group cannot disable them).
	StateUnavailable
)

var stateNames = [...]string{"initial", "healthy", "unhealthy", "unused", "draining", "unavailable"}

// String returns the state as AWS spells it ("healthy").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Reason is a TargetHealth reason code ("Target.Timeout"). Healthy targets have
// none (the empty Reason).
type Reason string

// Reason codes (alb-data-plane.md §5.3, elbv2-api.md DescribeTargetHealth).
// Elb.* codes come from the load balancer's side, Target.* from the target's.
const (
	ReasonNone                     Reason = ""
	ReasonRegistrationInProgress   Reason = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    Reason = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     Reason = "Target.ResponseCodeMismatch"
	ReasonTimeout                  Reason = "Target.Timeout"
	ReasonFailedHealthChecks       Reason = "Target.FailedHealthChecks"
	ReasonInternalError            Reason = "Elb.InternalError"
	ReasonNotRegistered            Reason = "Target.NotRegistered"
	ReasonNotInUse                 Reason = "Target.NotInUse"
	ReasonDeregistrationInProgress Reason = "Target.DeregistrationInProgress"
	ReasonHealthCheckDisabled      Reason = "Target.HealthCheckDisabled"
)

// Thresholds are the parts of a health check the state machine needs.
type Thresholds struct {
	// Healthy is HealthyThresholdCount: passes in a row that make an unhealthy
	// target healthy.
	Healthy int
	// Unhealthy is UnhealthyThresholdCount: failures in a row that make a
	// target unhealthy.
	Unhealthy int
}

// Result is the outcome of one health check.
type Result struct {
	// Pass is true when the target answered with a status in the matcher
	// within the timeout.
	Pass bool
	// Reason says why a failed check failed: ReasonResponseCodeMismatch,
	// ReasonTimeout or ReasonFailedHealthChecks.
	Reason Reason
	// Code is the status code the target answered with, 0 if none.
	Code int
	// Detail is a human-readable account of a failure for the node's log
	// ("connect: connection refused"); never shown as the description.
	Detail string
	// logReason is the health-check log's reason_code when Reason alone does
	// not say it (see LogReason).
	logReason string
}

// Record is the state machine's view of one target: its state and reason and
// the run of passes or failures that will move it next.
type Record struct {
	State  State
	Reason Reason
	// Code is the status code behind ReasonResponseCodeMismatch.
	Code int
	// Passes and Fails count the current run of consecutive results; at most
	// one of them is non-zero.
	Passes, Fails int
}

// Registered is the record of a target that was just registered: initial,
// waiting for its first health check.
func Registered() Record {
	return Record{State: StateInitial, Reason: ReasonRegistrationInProgress}
}

// NotInUse is the record of a registered target whose target group no listener
// uses: ALB reports it unused and does not check it.
func NotInUse() Record {
	return Record{State: StateUnused, Reason: ReasonNotInUse}
}

// Deregistered is the record of a target being deregistered.
func Deregistered() Record {
	return Record{State: StateDraining, Reason: ReasonDeregistrationInProgress}
}

// Removed is the record of a target whose deregistration completed.
func Removed() Record {
	return Record{State: StateUnused, Reason: ReasonNotRegistered}
}

// CheckStarted returns r once a health check of the target has begun: a target
// waiting for its first check moves to Elb.InitialHealthChecking.
func CheckStarted(r Record) Record {
	if r.State == StateInitial && r.Reason == ReasonRegistrationInProgress {
		r.Reason = ReasonInitialHealthChecking
	}
	return r
}

// Observe returns the record that follows r after a health check with result
// res, as ALB moves targets (alb-data-plane.md §5.2):
//
//   - initial: one pass makes the target healthy; Unhealthy failures in a row
//     make it unhealthy (before that it stays initial).
//   - healthy: Unhealthy failures in a row make it unhealthy.
//   - unhealthy: Healthy passes in a row make it healthy; each failure updates
//     the reason to the latest one.
//   - draining, unused, unavailable: results are ignored.
func Observe(r Record, res Result, t Thresholds) Record {
	switch r.State {
	case StateInitial, StateHealthy, StateUnhealthy:
	default:
		return r
	}
	if res.Pass {
		r.Fails = 0
		r.Passes++
		if r.State == StateInitial || r.State == StateHealthy || r.Passes >= t.Healthy {
			return Record{State: StateHealthy}
		}
		return r
	}
	r.Passes = 0
	r.Fails++
	switch {
	case r.State == StateUnhealthy || r.Fails >= t.Unhealthy:
		return Record{State: StateUnhealthy, Reason: res.Reason, Code: res.Code, Fails: r.Fails}
	case r.State == StateInitial:
		r.Reason = ReasonInitialHealthChecking
	}
	return r
}

// Description is the TargetHealth description of the record, as AWS words it
// ("Health checks failed with these codes: [404]"); empty when healthy.
func (r Record) Description() string {
	switch r.Reason {
	case ReasonNone:
		return ""
	case ReasonRegistrationInProgress:
		return "Target registration is in progress"
	case ReasonInitialHealthChecking:
		return "Initial health checks in progress"
	case ReasonResponseCodeMismatch:
		return "Health checks failed with these codes: [" + strconv.Itoa(r.Code) + "]"
	case ReasonTimeout:
		return "Request timed out"
	case ReasonFailedHealthChecks:
		return "Health checks failed"
	case ReasonInternalError:
		return "Health checks failed due to an internal error"
	case ReasonNotRegistered:
		return "Target is not registered to the target group"
	case ReasonNotInUse:
		return "Target group is not configured to receive traffic from the load balancer"
	case ReasonDeregistrationInProgress:
		return "Target deregistration is in progress"
	case ReasonHealthCheckDisabled:
		return "Health checks are not enabled for this target"
	}
	return string(r.Reason)
}
