package balance

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// member is a candidate target for tests; inFlight stands for its health
// status's count of requests in flight.
type member struct {
	rt       Runtime
	inFlight int64
}

func (m *member) Runtime() *Runtime { return &m.rt }
func (m *member) InFlight() int64   { return m.inFlight }

func members(n int) []*member {
	out := make([]*member, n)
	for i := range out {
		out[i] = &member{}
	}
	return out
}

// within reports whether got is within tol (a fraction of total) of want.
func within(got, want, total int, tol float64) bool {
	return math.Abs(float64(got-want)) <= tol*float64(total)
}

func TestRoundRobinCyclesInOrder(t *testing.T) {
	var rr RoundRobin[*member]
	ms := members(3)
	for i := 0; i < 9; i++ {
		if got := rr.Pick(ms, time.Now()); got != i%3 {
			t.Fatalf("pick %d: got %d, want %d", i, got, i%3)
		}
	}
}

// TestOneCandidateTakesNoTurn: with one candidate every algorithm picks it,
// and round robin's turn does not move (the request path writes nothing
// shared), so its cycle over more candidates starts where it was.
func TestOneCandidateTakesNoTurn(t *testing.T) {
	for _, algo := range []string{config.AlgorithmRoundRobin, config.AlgorithmLeastOutstandingRequests, config.AlgorithmWeightedRandom} {
		p := New[*member](config.TargetGroupAttributes{Algorithm: algo})
		one := members(1)
		for range 5 {
			if got := p.Pick(one, time.Now()); got != 0 {
				t.Fatalf("%s: picked %d of one candidate", algo, got)
			}
		}
	}
	var rr RoundRobin[*member]
	rr.Pick(members(1), time.Now())
	ms := members(3)
	for i := range 3 {
		if got := rr.Pick(ms, time.Now()); got != i {
			t.Fatalf("pick %d after single-candidate picks: got %d, want %d", i, got, i)
		}
	}
}

func TestRoundRobinEvenUnderConcurrency(t *testing.T) {
	var rr RoundRobin[*member]
	ms := members(3)
	const workers, each, n = 8, 3000, 3
	counts := make([][n]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				counts[w][rr.Pick(ms, time.Now())]++
			}
		}(w)
	}
	wg.Wait()
	var total [n]int
	for _, c := range counts {
		for i, v := range c {
			total[i] += v
		}
	}
	for i, v := range total {
		if v != workers*each/n {
			t.Errorf("target %d got %d picks, want exactly %d", i, v, workers*each/n)
		}
	}
}

// TestDistribution sends 10,000 requests over 3 targets with every algorithm
// and checks each target's share.
func TestDistribution(t *testing.T) {
	const requests = 10000
	for _, algo := range []string{config.AlgorithmRoundRobin, config.AlgorithmLeastOutstandingRequests, config.AlgorithmWeightedRandom} {
		t.Run(algo, func(t *testing.T) {
			p := New[*member](config.TargetGroupAttributes{Algorithm: algo})
			ms := members(3)
			var counts [3]int
			now := time.Now()
			for i := 0; i < requests; i++ {
				k := p.Pick(ms, now)
				ms[k].inFlight++
				counts[k]++
				ms[k].inFlight--
			}
			for i, c := range counts {
				if !within(c, requests/3, requests, 0.03) {
					t.Errorf("target %d got %d of %d requests, want %d ± 3%%", i, c, requests, requests/3)
				}
			}
			t.Logf("%s: %v", algo, counts)
		})
	}
}

// TestLeastOutstandingPrefersIdleTargets simulates targets with different
// service times: each step one request arrives, and a request to target i
// finishes after 1, 2 or 4 steps. The slowest target must get the fewest
// requests, and no pick may go to a target busier than another.
func TestLeastOutstandingPrefersIdleTargets(t *testing.T) {
	var p LeastOutstanding[*member]
	ms := members(3)
	service := []int{1, 2, 4}
	type done struct{ at, target int }
	var pending []done
	var counts [3]int
	for step := 0; step < 10000; step++ {
		kept := pending[:0]
		for _, d := range pending {
			if d.at <= step {
				ms[d.target].inFlight--
			} else {
				kept = append(kept, d)
			}
		}
		pending = kept
		k := p.Pick(ms, time.Time{})
		for i := range ms {
			if ms[i].InFlight() < ms[k].InFlight() {
				t.Fatalf("step %d: picked target %d with %d outstanding, target %d has %d", step, k, ms[k].InFlight(), i, ms[i].InFlight())
			}
		}
		ms[k].inFlight++
		counts[k]++
		pending = append(pending, done{step + service[k], k})
	}
	if !(counts[0] > counts[1] && counts[1] > counts[2]) {
		t.Errorf("requests per target %v: want the fastest target first and the slowest last", counts)
	}
	t.Logf("service times %v: requests %v", service, counts)
}

func TestWeightedTargetGroups(t *testing.T) {
	const requests = 10000
	for _, weights := range [][]int{{90, 10}, {1, 1, 1}, {0, 5}, {3, 0, 1}} {
		total := 0
		for _, w := range weights {
			total += w
		}
		counts := make([]int, len(weights))
		for i := 0; i < requests; i++ {
			counts[PickWeighted(weights, total)]++
		}
		for i, w := range weights {
			want := requests * w / total
			if !within(counts[i], want, requests, 0.02) || (w == 0 && counts[i] != 0) {
				t.Errorf("weights %v: group %d got %d of %d, want %d ± 2%%", weights, i, counts[i], requests, want)
			}
		}
		t.Logf("weights %v: %v", weights, counts)
	}
	if PickWeighted([]int{0, 0}, 0) != -1 {
		t.Error("all-zero weights must pick nothing")
	}
}

// TestSlowStartRampsLinearly checks a new target's share at points of its
// window: with two targets at full weight, a target in slow start at fraction
// f of its window gets f/(2+f) of the requests.
func TestSlowStartRampsLinearly(t *testing.T) {
	const window = 100 * time.Second
	start := time.Unix(1_000_000, 0)
	rr := &RoundRobin[*member]{SlowStart: window}
	ms := members(3)
	ms[2].rt.EnterSlowStart(start)
	const requests = 30000
	for _, f := range []float64{0, 0.25, 0.5, 1} {
		now := start.Add(time.Duration(f * float64(window)))
		var counts [3]int
		for i := 0; i < requests; i++ {
			counts[rr.Pick(ms, now)]++
		}
		want := int(requests * f / (2 + f))
		if !within(counts[2], want, requests, 0.015) {
			t.Errorf("at %.0f%% of the window the new target got %d of %d, want %d", 100*f, counts[2], requests, want)
		}
		t.Logf("slow start %.0f%%: %v", 100*f, counts)
	}
	// Everyone in slow start: nobody is held back.
	for _, m := range ms {
		m.rt.EnterSlowStart(start)
	}
	var counts [3]int
	for i := 0; i < 3000; i++ {
		counts[rr.Pick(ms, start)]++
	}
	if counts != [3]int{1000, 1000, 1000} {
		t.Errorf("all targets in slow start: got %v, want an even split", counts)
	}
}

func TestRegistrySlowStartEntry(t *testing.T) {
	r := NewRegistry()
	a, b, c := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2"), netip.MustParseAddrPort("127.0.0.1:3")
	t0 := time.Unix(1000, 0)
	first := r.Runtimes("g", time.Minute, []netip.AddrPort{a, b}, t0)
	if first[0].slowStartFrom.Load() != 0 || first[1].slowStartFrom.Load() != 0 {
		t.Error("targets of a new group entered slow start")
	}
	second := r.Runtimes("g", time.Minute, []netip.AddrPort{a, b, c}, t0.Add(time.Second))
	if second[0] != first[0] || second[1] != first[1] {
		t.Error("a reload replaced the runtime of a target that stayed")
	}
	if second[2].slowStartWeight(t0.Add(31*time.Second), time.Minute) != 0.5 {
		t.Errorf("new target: weight %v half way through its window, want 0.5", second[2].slowStartWeight(t0.Add(31*time.Second), time.Minute))
	}
	// Switching slow start on does not put current targets into it.
	r2 := NewRegistry()
	old := r2.Runtimes("g", 0, []netip.AddrPort{a}, t0)
	r2.Runtimes("g", 0, []netip.AddrPort{a, b}, t0) // b registered while off
	now := r2.Runtimes("g", time.Minute, []netip.AddrPort{a, b}, t0.Add(time.Second))
	if now[0] != old[0] || now[1].slowStartFrom.Load() != 0 {
		t.Error("enabling slow start put an existing target into it")
	}
	// A target that leaves and comes back starts afresh.
	r.Retain(map[string][]netip.AddrPort{"g": {a}})
	again := r.Runtimes("g", time.Minute, []netip.AddrPort{a, c}, t0.Add(time.Hour))
	if again[1] == second[2] {
		t.Error("a deregistered target kept its runtime")
	}
}

func TestCookieCodec(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	c, err := NewCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	in := Sticky{Group: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Target: netip.MustParseAddrPort("10.1.2.3:8080"), Until: time.Unix(1_900_000_000, 0)}
	v := c.Append(nil, &in, &sc)
	if len(v) != CookieValueLen {
		t.Fatalf("value %q has length %d, want %d", v, len(v), CookieValueLen)
	}
	out, ok := c.Open(v, &sc)
	if !ok || out != in {
		t.Fatalf("round trip: got %+v %v, want %+v", out, ok, in)
	}
	v6 := Sticky{Target: netip.MustParseAddrPort("[::1]:9000"), Until: in.Until}
	if out, ok := c.Open(c.Append(nil, &v6, &sc), &sc); !ok || out != v6 {
		t.Errorf("IPv6 round trip: got %+v", out)
	}
	if string(c.Append(nil, &in, &sc)) == string(v) {
		t.Error("two values for the same binding are equal: the nonce is not fresh")
	}
	// Tampering, other keys, URL encoding and junk are all refused.
	bad := append([]byte(nil), v...)
	bad[10] ^= 1
	other, _ := NewCodec(make([]byte, KeySize))
	for name, val := range map[string][]byte{
		"tampered":    bad,
		"other key":   other.Append(nil, &in, &sc),
		"url-encoded": []byte(fmt.Sprintf("%s%%3D", v[:len(v)-1])),
		"junk":        []byte("hello"),
		"empty":       nil,
	} {
		if _, ok := c.Open(val, &sc); ok {
			t.Errorf("%s value accepted", name)
		}
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		buf = c.Append(buf[:0], &in, &sc)
		c.Open(buf, &sc)
	}); n != 0 {
		t.Errorf("encoding and decoding allocate %v times", n)
	}
}
