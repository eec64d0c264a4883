package analyze

import (
	"math/bits"
	"time"
)

// Histogram geometry. Values are whole milliseconds (ALB writes processing
// times with three decimals). Below 2^histSubBits ms every millisecond has its
// own bucket, so percentiles of fast requests are exact; above, each power of
// two is split into 2^(histSubBits-1) buckets, so a reported percentile is
// within 0.1% of the true value. The largest bucket starts at 2^histMaxBits ms
// (about two years); larger values are counted there. One histogram is a fixed
// 112 KiB whatever the input size, which is what keeps memory flat.
const (
	histSubBits = 10
	histSub     = 1 << histSubBits // 1024: exact below this many ms
	histHalf    = histSub / 2      // buckets per power of two above
	histMaxBits = 36               // values up to 2^36 ms
	histBuckets = histSub + (histMaxBits-histSubBits)*histHalf
	histMaxMs   = int64(1)<<histMaxBits - 1
)

// hist is a log-linear histogram of millisecond values with an exact count,
// sum, minimum and maximum. The zero value is empty and ready to use.
type hist struct {
	n, sum   int64
	min, max int64
	counts   [histBuckets]int64
}

// bucketOf returns the bucket index of v (0 <= v).
func bucketOf(v int64) int {
	if v < histSub {
		return int(v)
	}
	if v > histMaxMs {
		v = histMaxMs
	}
	shift := bits.Len64(uint64(v)) - histSubBits // >= 1; v>>shift is in [histHalf, histSub)
	return histSub + (shift-1)*histHalf + int(v>>shift) - histHalf
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (low, width int64) {
	if i < histSub {
		return int64(i), 1
	}
	shift := (i-histSub)/histHalf + 1
	return int64(histHalf+(i-histSub)%histHalf) << shift, int64(1) << shift
}

// addMs records one value in milliseconds; negative values are ignored.
func (h *hist) addMs(v int64) {
	if v < 0 {
		return
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
	h.counts[bucketOf(v)]++
}

// add records a duration, truncated to milliseconds; negative durations (ALB's
// -1, "not measured") are ignored.
func (h *hist) add(d time.Duration) {
	if d >= 0 {
		h.addMs(int64(d / time.Millisecond))
	}
}

// merge adds o's values to h.
func (h *hist) merge(o *hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1) in milliseconds:
// the smallest recorded value such that at least q of all values are at most
// it. It is exact below histSub ms and otherwise the middle of the bucket that
// holds it, kept within [min, max].
func (h *hist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999999) // ceil without float surprises at exact ranks
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			return min(max(low+width/2, h.min), h.max)
		}
	}
	return h.max
}

// cluster is a run of values concentrated around one value.
type cluster struct {
	CenterMs int64 // weighted median of the values in the window
	LowMs    int64 // smallest value in the window
	HighMs   int64 // largest value in the window
	Count    int64
}

// clusterWindow is how far from its center a value may be and still belong to
// a cluster: 5%, and at least 100 ms (ALB's own timers are not more precise
// than that once logged).
func clusterWindow(centerMs int64) int64 { return max(centerMs/20, 100) }

// topCluster returns the window [c-w(c), c+w(c)] that holds the most values,
// where c ranges over the recorded values. ok is false for an empty histogram.
func (h *hist) topCluster() (cl cluster, ok bool) {
	type point struct{ v, n int64 }
	var pts []point
	for i, c := range h.counts {
		if c > 0 {
			low, width := bucketRange(i)
			pts = append(pts, point{min(max(low+width/2, h.min), h.max), c})
		}
	}
	if len(pts) == 0 {
		return cluster{}, false
	}
	// Two pointers: for each center, the window's first and last points.
	var bestLo, bestHi int
	var sum int64
	lo, hi := 0, 0
	var bestSum int64 = -1
	for c := range pts {
		w := clusterWindow(pts[c].v)
		for hi < len(pts) && pts[hi].v <= pts[c].v+w {
			sum += pts[hi].n
			hi++
		}
		for pts[lo].v < pts[c].v-w {
			sum -= pts[lo].n
			lo++
		}
		if sum > bestSum {
			bestLo, bestHi, bestSum = lo, hi, sum
		}
	}
	cl = cluster{LowMs: pts[bestLo].v, HighMs: pts[bestHi-1].v, Count: bestSum}
	var seen int64
	for _, p := range pts[bestLo:bestHi] {
		seen += p.n
		if 2*seen >= bestSum {
			cl.CenterMs = p.v
			break
		}
	}
	return cl, true
}
