package health

import (
	"strings"
	"testing"
)

// TestObserveScripts drives the state machine with scripts of check results and
// checks the state after each: "P" is a passing check, "T" a timeout, "F" a
// failed connection, a number a response code outside the matcher.
func TestObserveScripts(t *testing.T) {
	th := Thresholds{Healthy: 3, Unhealthy: 2}
	cases := []struct {
		name   string
		script string
		want   string // the state after each step, space separated
	}{
		{"one pass makes a new target healthy", "P", "healthy"},
		{"a new target failing stays initial until the threshold", "T T", "initial unhealthy"},
		{"healthy survives one failure", "P 500 P", "healthy healthy healthy"},
		{"exactly the unhealthy threshold", "P 500 500", "healthy healthy unhealthy"},
		{"failures must be consecutive", "P 500 P 500 P 500", "healthy healthy healthy healthy healthy healthy"},
		{"recovery needs the healthy threshold", "P T T P P P", "healthy healthy unhealthy unhealthy unhealthy healthy"},
		{"recovery passes must be consecutive", "P T T P P F P P P", "healthy healthy unhealthy unhealthy unhealthy unhealthy unhealthy unhealthy healthy"},
		{"unhealthy again after recovering", "T T P P P 404 404", "initial unhealthy unhealthy unhealthy healthy healthy unhealthy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckStarted(Registered())
			var got []string
			for _, step := range strings.Fields(tc.script) {
				r = Observe(r, result(step), th)
				got = append(got, r.State.String())
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("states %q, want %q", g, tc.want)
			}
		})
	}
}

func result(step string) Result {
	switch step {
	case "P":
		return Result{Pass: true, Code: 200}
	case "T":
		return Result{Reason: ReasonTimeout}
	case "F":
		return Result{Reason: ReasonFailedHealthChecks}
	}
	code := 0
	for _, c := range step {
		code = code*10 + int(c-'0')
	}
	return Result{Reason: ReasonResponseCodeMismatch, Code: code}
}

// TestReasonsAndDescriptions checks the reason and description of each state
// against AWS's (elbv2-api.md, DescribeTargetHealth).
func TestReasonsAndDescriptions(t *testing.T) {
	th := Thresholds{Healthy: 2, Unhealthy: 2}
	fail := func(step string) Record {
		r := Observe(Registered(), result(step), th)
		return Observe(r, result(step), th)
	}
	cases := []struct {
		name   string
		rec    Record
		state  string
		reason Reason
		desc   string
	}{
		{"registered", Registered(), "initial", "Elb.RegistrationInProgress", "Target registration is in progress"},
		{"first check", CheckStarted(Registered()), "initial", "Elb.InitialHealthChecking", "Initial health checks in progress"},
		{"first check failed", Observe(Registered(), result("T"), th), "initial", "Elb.InitialHealthChecking", "Initial health checks in progress"},
		{"healthy", Observe(Registered(), result("P"), th), "healthy", "", ""},
		{"code mismatch", fail("404"), "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]"},
		{"timeout", fail("T"), "unhealthy", "Target.Timeout", "Request timed out"},
		{"failed", fail("F"), "unhealthy", "Target.FailedHealthChecks", "Health checks failed"},
		{"draining", Deregistered(), "draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"},
		{"removed", Removed(), "unused", "Target.NotRegistered", "Target is not registered to the target group"},
		{"not in use", NotInUse(), "unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"},
		{"disabled", Record{State: StateUnavailable, Reason: ReasonHealthCheckDisabled}, "unavailable", "Target.HealthCheckDisabled", "Health checks are not enabled for this target"},
	}
	for _, tc := range cases {
		if tc.rec.State.String() != tc.state || tc.rec.Reason != tc.reason || tc.rec.Description() != tc.desc {
			t.Errorf("%s: %s/%s/%q, want %s/%s/%q", tc.name, tc.rec.State, tc.rec.Reason, tc.rec.Description(), tc.state, tc.reason, tc.desc)
		}
	}
	// The latest failure's reason shows while unhealthy.
	r := Observe(fail("T"), result("503"), th)
	if r.Reason != ReasonResponseCodeMismatch || r.Description() != "Health checks failed with these codes: [503]" {
		t.Errorf("after a timeout then a 503: %s %q", r.Reason, r.Description())
	}
	// Lifecycle states ignore check results.
	for _, rec := range []Record{Deregistered(), Removed(), NotInUse()} {
		if got := Observe(rec, result("P"), th); got != rec {
			t.Errorf("%s changed by a check to %+v", rec.State, got)
		}
	}
}

func TestDescriptionCountsConnectionErrors(t *testing.T) {
	healthy := Record{State: StateHealthy}
	if got := describe(healthy, 0); got != "" {
		t.Errorf("healthy, no errors: %q", got)
	}
	if got := describe(healthy, 1); got != "1 target connection error" {
		t.Errorf("healthy, 1 error: %q", got)
	}
	if got := describe(Record{State: StateUnhealthy, Reason: ReasonTimeout}, 3); got != "Request timed out (3 target connection errors)" {
		t.Errorf("unhealthy, 3 errors: %q", got)
	}
}
