package elbv2

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/health"
)

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }

// Target states and reason codes (elbv2-api.md §3.4).
var (
	healthDraining    = TargetHealth{State: "draining", Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress"}
	healthNotInUse    = TargetHealth{State: "unused", Reason: "Target.NotInUse", Description: "Target group is not configured to receive traffic from the load balancer"}
	healthUnregistred = TargetHealth{State: "unused", Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"}
	// healthUnchecked is the answer when no health checker is wired in (tests
	// of the API alone): the state AWS reports for a target whose health
	// checks are disabled, which is what it is, and which (as on AWS) still
	// receives traffic.
	healthUnchecked = TargetHealth{State: "unavailable", Reason: "Target.HealthCheckDisabled", Description: "Health checks are not run by this node; the target receives traffic"}
)

// RegistryHealth reads target health from the node's health checker.
func RegistryHealth(r *health.Registry) HealthFunc {
	return func(tg string, addr netip.AddrPort) (TargetHealth, bool) {
		th, ok := r.Lookup(tg, addr)
		if !ok {
			return TargetHealth{}, false
		}
		return TargetHealth{State: th.State.String(), Reason: string(th.Reason), Description: th.Description, HealthCheckPort: int(th.HealthCheckPort),
			Anomalous: th.Anomalous, Mitigated: th.Mitigated}, true
	}
}

func describeTargetHealth(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	tg, err := findTargetGroup(m, c.f)
	if err != nil {
		return err
	}
	filter, err := readTargets(c.f, tg, false)
	if err != nil {
		return err
	}
	now := c.ctrl.Now()
	draining := tg.ActiveDraining(now)
	inUse := len(m.ListenersUsing(tg.ID)) > 0
	// AnomalyDetection is reported when asked for (Include AnomalyDetection
	// or All); the verdicts come from anomaly mitigation, so a group without
	// it is normal throughout.
	withAnomaly := false
	for _, inc := range c.f.strings("Include") {
		switch inc {
		case "AnomalyDetection", "All":
			withAnomaly = true
		default:
			return errorf(codeValidation, "1 validation error detected: Value '%s' at 'include' failed to satisfy constraint: Member must satisfy enum value set: [AnomalyDetection, All]", inc)
		}
	}

	type row struct {
		t control.Target
		h TargetHealth
	}
	health := func(t control.Target) TargetHealth {
		for _, d := range draining {
			if sameTarget(d.Target, t) {
				return healthDraining
			}
		}
		if indexTarget(tg.Targets, t) < 0 {
			return healthUnregistred
		}
		if h := c.h.opts.Health; h != nil {
			if addr, err := netip.ParseAddr(t.ID); err == nil {
				if th, ok := h(tg.Name, netip.AddrPortFrom(addr, uint16(t.Port))); ok {
					return th
				}
			}
		}
		if !inUse {
			return healthNotInUse
		}
		return healthUnchecked
	}
	var rows []row
	if len(filter) > 0 {
		for _, t := range filter {
			rows = append(rows, row{t, health(t)})
		}
	} else {
		for _, t := range tg.Targets {
			rows = append(rows, row{t, health(t)})
		}
		for _, d := range draining {
			rows = append(rows, row{d.Target, healthDraining})
		}
	}
	w.list("TargetHealthDescriptions", len(rows), func(i int) {
		r := rows[i]
		w.open("Target")
		w.leaf("Id", r.t.ID)
		w.int("Port", r.t.Port)
		w.opt("AvailabilityZone", r.t.AvailabilityZone)
		w.close("Target")
		port := strconv.Itoa(r.t.Port)
		if p := tg.HealthCheck.Port; p != "" && p != "traffic-port" {
			port = p
		}
		if r.h.HealthCheckPort != 0 {
			port = strconv.Itoa(r.h.HealthCheckPort)
		}
		w.leaf("HealthCheckPort", port)
		w.open("TargetHealth")
		w.leaf("State", r.h.State)
		w.opt("Reason", r.h.Reason)
		w.opt("Description", r.h.Description)
		w.close("TargetHealth")
		if withAnomaly {
			w.open("AnomalyDetection")
			w.leaf("Result", map[bool]string{true: "anomalous", false: "normal"}[r.h.Anomalous])
			w.leaf("MitigationInEffect", map[bool]string{true: "yes", false: "no"}[r.h.Mitigated])
			w.close("AnomalyDetection")
		}
		w.open("AdministrativeOverride")
		w.leaf("State", "no_override")
		w.leaf("Reason", "AdministrativeOverride.NoOverride")
		w.leaf("Description", "No override is currently active on target")
		w.close("AdministrativeOverride")
	})
	return nil
}

// String formats a target health for logs and test failures.
func (h TargetHealth) String() string {
	return fmt.Sprintf("%s (%s: %s)", h.State, h.Reason, h.Description)
}
