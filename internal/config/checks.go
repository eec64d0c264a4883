package config

import (
	"fmt"
	"strconv"
	"time"
)

// The Check functions are the ordering rules between timeouts, in the manner of
// HashiCorp raft's config validator: each compares two settings and says which
// must be shorter and why. Validation calls them on a configuration, and
// `albatross doctor` calls them on a configuration plus values it measured (a
// target's Keep-Alive timeout, a client's request timeout). Each returns nil or
// an *OrderingError.

// OrderingError says that one timeout is not in the required order with another.
type OrderingError struct {
	// Name and Value are the setting that is out of order.
	Name  string
	Value time.Duration
	// Relation is "smaller than", "at most" or "larger than".
	Relation string
	// Bound and BoundValue are the setting it is compared with.
	Bound      string
	BoundValue time.Duration
	// Reason says what goes wrong when the order is broken.
	Reason string
}

// Error formats the rule as one sentence.
func (e *OrderingError) Error() string {
	return fmt.Sprintf("%s (%s) must be %s %s (%s): %s",
		e.Name, formatSeconds(e.Value), e.Relation, e.Bound, formatSeconds(e.BoundValue), e.Reason)
}

// formatSeconds writes a duration as whole seconds ("60s") when it is one, since
// every setting here is configured in seconds.
func formatSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// CheckHealthCheckTimeout: a health check's timeout must be smaller than its
// interval, or a slow probe would still be running when the next one starts (AWS
// rejects it: "Health check timeout 'T' must be smaller than the interval 'I'").
func CheckHealthCheckTimeout(h HealthCheck) error {
	if h.TimeoutSeconds < h.IntervalSeconds {
		return nil
	}
	return &OrderingError{
		Name: "health_check.timeout_seconds", Value: h.Timeout(),
		Relation: "smaller than",
		Bound:    "health_check.interval_seconds", BoundValue: h.Interval(),
		Reason: "a probe must finish before the next one starts",
	}
}

// CheckTargetIdleTimeout: a target group's target_keep_alive.idle_timeout_seconds,
// when set, cannot be larger than the idle_timeout.timeout_seconds of a load
// balancer that forwards to it, because that idle timeout already closes target
// connections idle for that long; a larger value would never take effect.
func CheckTargetIdleTimeout(tg TargetGroupAttributes, lb LoadBalancerAttributes) error {
	if tg.TargetIdleTimeout == 0 || tg.TargetIdleTimeout <= lb.IdleTimeout {
		return nil
	}
	return &OrderingError{
		Name: "target_keep_alive.idle_timeout_seconds", Value: tg.TargetIdleTimeout,
		Relation: "at most",
		Bound:    "idle_timeout.timeout_seconds", BoundValue: lb.IdleTimeout,
		Reason: "the load balancer already closes target connections idle that long, so a larger value never takes effect",
	}
}

// TargetIdleLimit is how long an idle connection to a target of tg may be kept
// when lb forwards to it: target_keep_alive.idle_timeout_seconds when set, else
// the load balancer's idle timeout.
func TargetIdleLimit(tg TargetGroupAttributes, lb LoadBalancerAttributes) time.Duration {
	if tg.TargetIdleTimeout > 0 && tg.TargetIdleTimeout < lb.IdleTimeout {
		return tg.TargetIdleTimeout
	}
	return lb.IdleTimeout
}

// CheckTargetKeepAlive: the time the load balancer keeps an idle target connection
// (TargetIdleLimit) must be smaller than the target's own keep-alive timeout,
// which doctor measures or reads from a Keep-Alive: timeout= header. Otherwise
// the target closes idle connections first, and a request sent on one as it
// closes fails with a 502 (alb-data-plane.md §8.1, §8.3).
func CheckTargetKeepAlive(idleLimit, targetKeepAlive time.Duration) error {
	if idleLimit < targetKeepAlive {
		return nil
	}
	return &OrderingError{
		Name: "target idle limit", Value: idleLimit,
		Relation: "smaller than",
		Bound:    "the target's keep-alive timeout", BoundValue: targetKeepAlive,
		Reason: "the target closes idle connections first, and a request racing that close gets a 502; set target_keep_alive.idle_timeout_seconds below the target's timeout or raise the target's keep-alive timeout",
	}
}

// CheckTargetHeadersTimeout: a target server's keep-alive timeout must be smaller
// than its timeout for receiving request headers. A server that applies the
// headers timeout to idle kept-alive connections (Node.js's headersTimeout is the
// well-known case) otherwise closes connections the load balancer thinks are
// still usable.
func CheckTargetHeadersTimeout(targetKeepAlive, targetHeadersTimeout time.Duration) error {
	if targetKeepAlive < targetHeadersTimeout {
		return nil
	}
	return &OrderingError{
		Name: "the target's keep-alive timeout", Value: targetKeepAlive,
		Relation: "smaller than",
		Bound:    "the target's request headers timeout", BoundValue: targetHeadersTimeout,
		Reason: "the target may close kept-alive connections on the headers timeout while the load balancer still reuses them",
	}
}

// CheckClientTimeout: a client's request timeout must be larger than the load
// balancer's idle timeout, or the client gives up before the load balancer can
// answer a slow target with its 504, and the access log shows a 460 instead.
func CheckClientTimeout(clientTimeout time.Duration, lb LoadBalancerAttributes) error {
	if clientTimeout > lb.IdleTimeout {
		return nil
	}
	return &OrderingError{
		Name: "client request timeout", Value: clientTimeout,
		Relation: "larger than",
		Bound:    "idle_timeout.timeout_seconds", BoundValue: lb.IdleTimeout,
		Reason: "the client gives up before the load balancer answers a slow target with 504, and the request is logged as 460",
	}
}

// CheckTimeouts runs every ordering rule that needs only the configuration
// (health check timeout against interval; target idle timeout against the idle
// timeout of each load balancer that forwards to the group) and returns the
// problems, with key paths and without lines. A configuration returned by Parse
// always passes; doctor calls it on configurations from other sources.
func CheckTimeouts(c *Config) []Problem {
	var ps []Problem
	tgIndex := make(map[string]int, len(c.TargetGroups))
	for i, tg := range c.TargetGroups {
		tgIndex[tg.Name] = i
		if err := CheckHealthCheckTimeout(tg.HealthCheck); err != nil {
			ps = append(ps, Problem{Path: fmt.Sprintf("target_groups[%d].health_check.timeout_seconds", i), Message: err.Error()})
		}
	}
	for li, lb := range c.LoadBalancers {
		seen := map[string]bool{}
		for _, l := range lb.Listeners {
			for _, name := range l.TargetGroupNames() {
				i, ok := tgIndex[name]
				if !ok || seen[name] {
					continue
				}
				seen[name] = true
				if err := CheckTargetIdleTimeout(c.TargetGroups[i].Attrs, lb.Attrs); err != nil {
					ps = append(ps, Problem{
						Path:    fmt.Sprintf("target_groups[%d].attributes.target_keep_alive.idle_timeout_seconds", i),
						Message: fmt.Sprintf("load balancer %q (load_balancers[%d]): %v", lb.Name, li, err),
					})
				}
			}
		}
	}
	return ps
}
