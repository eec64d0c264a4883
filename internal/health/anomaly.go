package health

import (
	"sync/atomic"
	"time"
)

// Outcomes of a target's requests, for anomaly mitigation
// (load_balancing.algorithm.anomaly_mitigation, see balance.WeightedRandom):
// how many requests it served and how many failed, over the last one or two
// windows of OutcomeWindow, and the verdict the balancer reached.

// OutcomeWindow is how long a window of request outcomes lasts: the counts a
// detector reads cover the current window and the one before (10-20 s).
const OutcomeWindow = 10 * time.Second

// outcomes is a target's request outcomes in two windows.
type outcomes struct {
	start              atomic.Int64 // current window's start, unix nanoseconds
	cur, curFail       atomic.Int64
	prev, prevFail     atomic.Int64
	anomalous, limited atomic.Bool
}

// ObserveOutcome records a request the target served at now; failed is a 5xx
// the target answered, or the load balancer's 502 or 504 for it.
func (s *Status) ObserveOutcome(failed bool, now time.Time) {
	o := &s.outcomes
	t := now.UnixNano()
	if st := o.start.Load(); t-st >= int64(OutcomeWindow) && o.start.CompareAndSwap(st, t) {
		if t-st >= 2*int64(OutcomeWindow) {
			o.prev.Store(0)
			o.prevFail.Store(0)
			o.cur.Store(0)
			o.curFail.Store(0)
		} else {
			o.prev.Store(o.cur.Swap(0))
			o.prevFail.Store(o.curFail.Swap(0))
		}
	}
	o.cur.Add(1)
	if failed {
		o.curFail.Add(1)
	}
}

// Outcomes returns the requests and failures of the last one or two windows
// at now (none when the target served nothing for two windows).
func (s *Status) Outcomes(now time.Time) (requests, failures int64) {
	o := &s.outcomes
	if now.UnixNano()-o.start.Load() >= 2*int64(OutcomeWindow) {
		return 0, 0
	}
	return o.cur.Load() + o.prev.Load(), o.curFail.Load() + o.prevFail.Load()
}

// SetAnomaly records the anomaly detector's verdict: whether the target's
// failures are anomalous next to its group's, and whether it gets less
// traffic for it.
func (s *Status) SetAnomaly(anomalous, mitigated bool) {
	s.outcomes.anomalous.Store(anomalous)
	s.outcomes.limited.Store(mitigated)
}

// Anomaly returns the last verdict of SetAnomaly.
func (s *Status) Anomaly() (anomalous, mitigated bool) {
	return s.outcomes.anomalous.Load(), s.outcomes.limited.Load()
}
