package health

import (
	"context"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"log/slog"
	"time"
)

// prober runs the health checks of one target in its own goroutine.
type prober struct {
	cancel context.CancelFunc
}

// startProber starts checking st on g's schedule; batch is how many targets
// start being checked in the same Apply (see firstCheckDelay). Called under
// r.mu.
func (r *Registry) startProber(g *Group, st *Status, batch int) *prober {
	ctx, cancel := context.WithCancel(r.ctx)
	p := &prober{cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.probeLoop(ctx, g, st, batch)
	}()
	return p
}

// stopProber stops st's health checks, if any run. Called under r.mu; the
// prober's goroutine ends on its own (a check in progress is abandoned).
func (r *Registry) stopProber(st *Status) {
	if st.prober != nil {
		st.prober.cancel()
		st.prober = nil
	}
}

// A new target is checked at once, so that it turns healthy as soon as it
// answers rather than an interval later. When many start together (one
// RegisterTargets of a thousand targets, or a node starting), their first
// checks spread over a window that grows by firstCheckSpacing per target, up
// to firstCheckWindow configured seconds and never past the interval, so that
// they do not all connect in the same millisecond.
const (
	firstCheckSpacing = 2 * time.Millisecond
	firstCheckWindow  = 5
)

// firstCheckDelay is how long after it starts being checked a target waits
// for its first check: its phase folded into the window that batch targets
// starting together share. One target alone waits at most firstCheckSpacing.
func firstCheckDelay(ph, interval time.Duration, batch int, second time.Duration) time.Duration {
	window := min(time.Duration(max(batch, 1))*firstCheckSpacing, firstCheckWindow*second, interval)
	if window <= 0 {
		return 0
	}
	return ph % window
}

// probeLoop checks st every interval until ctx ends. Checks run on a fixed grid
// (start+phase, start+phase+interval, ...): a check's duration does not shift
// the next one, as on ALB, and the phase spreads a group's targets over the
// interval. The first check comes at once (see firstCheckDelay), and the next
// ones return to the grid.
func (r *Registry) probeLoop(ctx context.Context, g *Group, st *Status, batch int) {
	s := g.settings.Load()
	start := time.Now()
	ph := phase(g.name, st.addr, s.interval)
	next := start.Add(firstCheckDelay(ph, s.interval, batch, r.opts.Second))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s = g.settings.Load()
		began := time.Now()
		st.update(CheckStarted, began)
		var res Result
		if s.h2 {
			res = checkH2(ctx, s, st.addr)
		} else {
			res, buf = check(ctx, s, st.addr, buf)
		}
		if ctx.Err() != nil {
			return // stopped during the check: its result means nothing
		}
		if r.opts.CheckLog != nil && s.lb != "" {
			r.logCheck(s, g, st, began, res)
		}
		old, rec := st.update(func(rec Record) Record { return Observe(rec, res, s.thresholds) }, time.Now())
		if old.State != rec.State {
			r.logTransition(s.lb, g, st, old, rec, res)
		}
		// The next slot of the grid; slots that passed while the machine was
		// suspended or starved are skipped.
		next = start.Add(ph)
		if now := time.Now(); !next.After(now) {
			next = next.Add((now.Sub(next)/s.interval + 1) * s.interval)
		}
		timer.Reset(time.Until(next))
	}
}

// logCheck hands the check's health-check log entry to Options.CheckLog.
func (r *Registry) logCheck(s *settings, g *Group, st *Status, began time.Time, res Result) {
	e := accesslog.HealthEntry{Type: s.logType(), Time: began, Latency: time.Since(began),
		Target: st.addr, TargetGroup: g.name, Pass: res.Pass, Reason: res.LogReason(s.grpc)}
	if !s.grpc {
		e.StatusCode = res.Code // a gRPC status is not an HTTP status code
	}
	r.opts.CheckLog(s.lb, &e)
}

// logType is the health-check log's type of the check.
func (s *settings) logType() string {
	switch {
	case s.grpc:
		return "grpc"
	case s.h2:
		return "h2"
	case s.https:
		return "https"
	}
	return "http"
}

func (r *Registry) logTransition(lb string, g *Group, st *Status, old, rec Record, res Result) {
	level := slog.LevelInfo
	if rec.State == StateUnhealthy {
		level = slog.LevelWarn
	}
	attrs := []any{"load_balancer", lb, "target_group", g.name, "target", st.addr.String(),
		"from", old.State.String(), "to", rec.State.String()}
	if rec.Reason != ReasonNone {
		attrs = append(attrs, "reason", string(rec.Reason), "description", rec.Description())
	}
	if res.Detail != "" {
		attrs = append(attrs, "detail", res.Detail)
	}
	r.opts.Logger.Log(context.Background(), level, "target health changed", attrs...)
}
