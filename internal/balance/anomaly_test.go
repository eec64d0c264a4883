package balance

import (
	"testing"
	"time"
)

// judged is a candidate with request outcomes, for anomaly mitigation.
type judged struct {
	member
	n, f                 int64
	anomalous, mitigated bool
}

func (j *judged) Outcomes(time.Time) (int64, int64) { return j.n, j.f }
func (j *judged) SetAnomaly(a, m bool)              { j.anomalous, j.mitigated = a, m }
func (j *judged) Anomaly() (bool, bool)             { return j.anomalous, j.mitigated }

// picks counts how often each candidate is picked in n picks.
func picks(w *WeightedRandom[*judged], ts []*judged, n int) []int {
	out := make([]int, len(ts))
	now := time.Unix(1000, 0)
	for range n {
		out[w.Pick(ts, now)]++
	}
	return out
}

// TestAnomalyMitigation: a target failing far more often than the rest of
// its group is judged anomalous and gets a tenth of a normal share; with
// mitigation off, or too few targets left normal, traffic stays even.
func TestAnomalyMitigation(t *testing.T) {
	const n = 30000
	ts := []*judged{{n: 100, f: 60}, {n: 100, f: 1}, {n: 100, f: 0}}
	w := &WeightedRandom[*judged]{Mitigate: true}
	got := picks(w, ts, n)
	if !ts[0].anomalous || !ts[0].mitigated || ts[1].anomalous || ts[2].anomalous {
		t.Fatalf("verdicts: %+v %+v %+v", ts[0], ts[1], ts[2])
	}
	// Expected shares: 0.1/2.1 ≈ 4.8% and 47.6% each.
	if got[0] > n/10 || got[1] < n*4/10 || got[2] < n*4/10 {
		t.Errorf("picks with one anomalous target of three: %v", got)
	}

	off := picks(&WeightedRandom[*judged]{}, []*judged{{n: 100, f: 60}, {n: 100}, {n: 100}}, n)
	if off[0] < n/4 {
		t.Errorf("mitigation off: the failing target got %d of %d picks, want about a third", off[0], n)
	}

	// Two of four failing: not one target's problem; flagged, not mitigated.
	half := []*judged{{n: 100, f: 60}, {n: 100, f: 70}, {n: 100}, {n: 100}}
	got = picks(&WeightedRandom[*judged]{Mitigate: true}, half, n)
	if !half[0].anomalous || half[0].mitigated || got[0] < n/5 {
		t.Errorf("half the group failing: verdict %+v, picks %v", half[0], got)
	}

	// A group failing everywhere alike has no anomaly.
	even := []*judged{{n: 100, f: 50}, {n: 100, f: 50}, {n: 100, f: 55}}
	picks(&WeightedRandom[*judged]{Mitigate: true}, even, 10)
	for i, j := range even {
		if j.anomalous {
			t.Errorf("even failures: target %d judged anomalous", i)
		}
	}

	// Too few recent requests to judge: the last verdict stands.
	quiet := []*judged{{n: 5, f: 5, anomalous: true}, {n: 100}, {n: 100}}
	picks(&WeightedRandom[*judged]{Mitigate: true}, quiet, 10)
	if !quiet[0].anomalous || !quiet[0].mitigated {
		t.Errorf("a target with 5 requests lost its verdict: %+v", quiet[0])
	}
	// Recovered: its failures are back to the group's level.
	quiet[0].n, quiet[0].f = 100, 0
	w = &WeightedRandom[*judged]{Mitigate: true}
	got = picks(w, quiet, n)
	if quiet[0].anomalous || got[0] < n/4 {
		t.Errorf("after recovery: %+v, picks %v", quiet[0], got)
	}
}

// TestAnomalyMitigationAllocatesNothing: once the weights are computed, a
// pick allocates nothing.
func TestAnomalyMitigationAllocatesNothing(t *testing.T) {
	ts := []*judged{{n: 100, f: 60}, {n: 100}, {n: 100}}
	w := &WeightedRandom[*judged]{Mitigate: true}
	now := time.Unix(1000, 0)
	w.Pick(ts, now)
	if a := testing.AllocsPerRun(1000, func() { w.Pick(ts, now) }); a != 0 {
		t.Errorf("Pick allocates %v times", a)
	}
}
