package balance

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"
)

// WeightedRandom picks a candidate at random (weighted_random). Every target
// has the same weight unless Mitigate is on
// (load_balancing.algorithm.anomaly_mitigation): then targets whose requests
// fail anomalously often next to the group's others get AnomalyWeight of a
// normal target's share, until their failures come back to the group's level.
type WeightedRandom[T Member] struct {
	// Mitigate turns anomaly mitigation on. The candidates must then
	// implement Outcomes (others are never anomalous).
	Mitigate bool
	weights  atomic.Pointer[weights[T]]
}

// Outcomes is what anomaly mitigation needs to know about a target: its
// recent requests and failures, and where to record the verdict.
type Outcomes interface {
	Outcomes(now time.Time) (requests, failures int64)
	SetAnomaly(anomalous, mitigated bool)
	Anomaly() (anomalous, mitigated bool)
}

// Anomaly detection: how it decides (docs/compatibility.md records the
// choice; AWS does not document its detector).
const (
	// AnomalyWeight is a mitigated target's share next to a normal one's:
	// small, but not zero, so that its recovery shows.
	AnomalyWeight = 0.1
	// anomalyMinRequests is how many recent requests a target needs before
	// it is judged; with fewer, its last verdict stands.
	anomalyMinRequests = 20
	// A target is anomalous when at least anomalyMinRate of its recent
	// requests failed and its rate is at least anomalyFactor times the
	// median rate of the group's other targets plus anomalyMargin.
	anomalyMinRate = 0.1
	anomalyFactor  = 3
	anomalyMargin  = 0.05
	// anomalyEvery is how often the weights are computed again.
	anomalyEvery = time.Second
)

// weights are the cumulative weights of one candidate list.
type weights[T any] struct {
	at time.Time
	// list and n identify the candidate list they were computed for.
	list *T
	n    int
	cum  []float64
}

// Pick returns a random candidate, anomalous ones less often.
func (w *WeightedRandom[T]) Pick(ts []T, now time.Time) int {
	if !w.Mitigate || len(ts) < 2 {
		return rand.IntN(len(ts))
	}
	ws := w.weights.Load()
	if ws == nil || ws.list != unsafe.SliceData(ts) || ws.n != len(ts) || now.Sub(ws.at) >= anomalyEvery {
		// Several requests may judge at once; they reach the same verdicts.
		ws = detectAnomalies(ts, now)
		w.weights.Store(ws)
	}
	if ws.cum == nil {
		return rand.IntN(len(ts))
	}
	r := rand.Float64() * ws.cum[len(ws.cum)-1]
	return min(sort.SearchFloat64s(ws.cum, r), len(ts)-1)
}

// detectAnomalies judges every candidate and returns the weights; cum is nil
// when every weight is the same.
func detectAnomalies[T Member](ts []T, now time.Time) *weights[T] {
	ws := &weights[T]{at: now, list: unsafe.SliceData(ts), n: len(ts)}
	// Each target's recent failure rate; NaN when it has too few requests.
	rates := make([]float64, len(ts))
	for i, t := range ts {
		rates[i] = math.NaN()
		if o, ok := any(t).(Outcomes); ok {
			if n, f := o.Outcomes(now); n >= anomalyMinRequests {
				rates[i] = float64(f) / float64(n)
			}
		}
	}
	anomalous := make([]bool, len(ts))
	count := 0
	others := make([]float64, 0, len(ts))
	for i, t := range ts {
		o, ok := any(t).(Outcomes)
		if !ok {
			continue
		}
		if math.IsNaN(rates[i]) {
			anomalous[i], _ = o.Anomaly() // too few requests to judge again
		} else {
			// Next to the median of the others, so that one failing
			// target does not hide another.
			others = others[:0]
			for j, r := range rates {
				if j != i && !math.IsNaN(r) {
					others = append(others, r)
				}
			}
			rest := median(others)
			anomalous[i] = rates[i] >= anomalyMinRate && rates[i] >= anomalyFactor*rest+anomalyMargin
		}
		if anomalous[i] {
			count++
		}
	}
	// When half the group or more looks anomalous the problem is not one
	// target's, and moving traffic would only overload the others.
	mitigate := count > 0 && 2*count < len(ts)
	if mitigate {
		ws.cum = make([]float64, len(ts))
	}
	sum := 0.0
	for i, t := range ts {
		if o, ok := any(t).(Outcomes); ok {
			o.SetAnomaly(anomalous[i], mitigate && anomalous[i])
		}
		if mitigate {
			if anomalous[i] {
				sum += AnomalyWeight
			} else {
				sum++
			}
			ws.cum[i] = sum
		}
	}
	return ws
}

// median of rs (0 when empty); reorders rs.
func median(rs []float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	sort.Float64s(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}
