package analyze

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	prevLow, prevWidth := int64(-1), int64(1)
	for i := range histBuckets {
		low, width := bucketRange(i)
		if low != prevLow+prevWidth {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, prevLow+prevWidth)
		}
		if bucketOf(low) != i || bucketOf(low+width-1) != i {
			t.Fatalf("bucket %d [%d, %d) maps back to %d and %d", i, low, low+width, bucketOf(low), bucketOf(low+width-1))
		}
		if width > 1 && float64(width)/2 > float64(low)*0.001 {
			t.Fatalf("bucket %d: half width %d is more than 0.1%% of %d", i, width/2, low)
		}
		prevLow, prevWidth = low, width
	}
	if bucketOf(histMaxMs*4) != histBuckets-1 {
		t.Errorf("values past the range go to bucket %d, want the last", bucketOf(histMaxMs*4))
	}
}

// TestQuantilesMatchSortedValues compares the histogram with exact
// nearest-rank quantiles over random samples of several shapes.
func TestQuantilesMatchSortedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func() int64{
		"fast":     func() int64 { return int64(rng.IntN(1000)) },
		"wide":     func() int64 { return int64(rng.ExpFloat64() * 5000) },
		"timeouts": func() int64 { return 60_000 + int64(rng.IntN(100)) },
		"huge":     func() int64 { return int64(rng.Uint64N(1 << 35)) },
	}
	for name, gen := range shapes {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 2, 7, 100, 5000} {
				var h hist
				var vals []int64
				for range n {
					v := gen()
					vals = append(vals, v)
					h.addMs(v)
				}
				for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
					got, want := h.quantile(q), quantileOf(vals, q)
					if !near(float64(got)/1000, want) {
						t.Errorf("n=%d q=%v: %d ms, want %d", n, q, got, want)
					}
				}
			}
		})
	}
}

func TestHistMergeEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all, a, b hist
	for i := range 1000 {
		v := int64(rng.IntN(100_000))
		all.addMs(v)
		if i%3 == 0 {
			a.addMs(v)
		} else {
			b.addMs(v)
		}
	}
	a.merge(&b)
	if a != all {
		t.Error("merged histogram differs from the one that saw every value")
	}
	var empty hist
	empty.add(-time.Millisecond)
	if empty.n != 0 {
		t.Error("a -1 (not measured) was counted")
	}
}

func TestTopCluster(t *testing.T) {
	var h hist
	for _, v := range []int64{1200, 3400, 29_950, 30_000, 30_010, 30_100, 45_000} {
		h.addMs(v)
	}
	cl, ok := h.topCluster()
	if !ok || cl.Count != 4 || !near(float64(cl.LowMs)/1000, 29_950) || !near(float64(cl.HighMs)/1000, 30_100) || !near(float64(cl.CenterMs)/1000, 30_000) {
		t.Errorf("cluster %+v, want 4 values 29.95-30.1 s around 30 s", cl)
	}
	var empty hist
	if _, ok := empty.topCluster(); ok {
		t.Error("an empty histogram has a cluster")
	}
}

func TestTableExactBelowLimitAndBoundedAbove(t *testing.T) {
	tb := newTable[int, struct{}](10)
	for i := range 10 {
		for range i + 1 {
			tb.get(i, nil).n++
		}
	}
	if !tb.exact() || len(tb.rows) != 10 || tb.rows[9].n != 10 {
		t.Fatalf("exact table: %d rows, exact %v", len(tb.rows), tb.exact())
	}
	// A heavy key among many one-off keys survives with its exact count.
	for i := range 10_000 {
		tb.get(1000+i, nil).n++
		tb.get(-1, nil).n++
	}
	if len(tb.rows) > 2*tb.limit+1 {
		t.Errorf("table holds %d keys, limit %d", len(tb.rows), tb.limit)
	}
	if tb.exact() {
		t.Error("a pruned table says it is exact")
	}
	if r := tb.rows[-1]; r == nil || r.n != 10_000 {
		t.Errorf("heavy key lost or miscounted: %+v", r)
	}
	if tb.floor != 1 {
		t.Errorf("floor = %d, want 1 (only one-off keys were dropped)", tb.floor)
	}
}

func TestRequestPathAndNormalisation(t *testing.T) {
	for _, tt := range []struct{ req, path, norm string }{
		{"GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1", "/v1/items", "/v1/items"},
		{"GET http://www.example.com:80/ HTTP/1.1", "/", "/"},
		{"GET https://10.0.2.105:773 HTTP/2.0", "", "/"},
		{"GET http://h:80/users/123/orders/456 HTTP/1.1", "/users/123/orders/456", "/users/{id}/orders/{id}"},
		{"GET http://h:80/orders/123e4567-e89b-12d3-a456-426614174000/items HTTP/1.1", "/orders/123e4567-e89b-12d3-a456-426614174000/items", "/orders/{id}/items"},
		{"GET http://h:80/blobs/5f0c6b2e9a1d4c3b HTTP/1.1", "/blobs/5f0c6b2e9a1d4c3b", "/blobs/{id}"},
		{"GET http://h:80/days/2025-11-03/v1.5 HTTP/1.1", "/days/2025-11-03/v1.5", "/days/{id}/v1.5"},
		{"GET http://h:80/t/AbCdEfGhIjKlMnOpQrSt1 HTTP/1.1", "/t/AbCdEfGhIjKlMnOpQrSt1", "/t/{id}"},
		{"GET http://h:80/v1/item42/deadbeef HTTP/1.1", "/v1/item42/deadbeef", "/v1/item42/deadbeef"},
		{"GET /origin/form/7?x HTTP/1.1", "/origin/form/7", "/origin/form/{id}"},
		{"GET http://h:80/a#frag HTTP/1.1", "/a", "/a"},
		{"- http://api.example.com:80- -", "", ""},
		{"garbage", "", ""},
	} {
		p := requestPath([]byte(tt.req))
		if string(p) != tt.path || (p == nil) != (tt.norm == "") {
			t.Errorf("requestPath(%q) = %q (nil %v), want %q", tt.req, p, p == nil, tt.path)
			continue
		}
		if p != nil {
			if got := string(normalizePath(nil, p)); got != tt.norm {
				t.Errorf("normalizePath(%q) = %q, want %q", p, got, tt.norm)
			}
		}
	}
	long := "/" + strings.Repeat("segment/", 100)
	if got := normalizePath(nil, []byte(long)); len(got) != maxPathKey+3 || !bytes.HasSuffix(got, []byte("...")) {
		t.Errorf("long path normalised to %d bytes", len(got))
	}
	// Found by FuzzLine: a run of slashes was never cut.
	slashes := "/x" + strings.Repeat("/", 300)
	if got := normalizePath(nil, []byte(slashes)); len(got) != maxPathKey+3 || !bytes.HasSuffix(got, []byte("...")) {
		t.Errorf("path of 300 slashes normalised to %d bytes", len(got))
	}
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"/api/*", "/api/users/1", true},
		{"/api/*", "/api", false},
		{"/api/*", "/apix/1", false},
		{"*/orders/*", "/v1/orders/7", true},
		{"/users/?", "/users/7", true},
		{"/users/?", "/users/77", false},
		{"/exact", "/exact", true},
		{"*", "", true},
		{"/a*b*c", "/aXbYbZc", true},
		{"/a*b*c", "/aXbYbZ", false},
	} {
		if got := glob(tt.pattern, []byte(tt.s)); got != tt.want {
			t.Errorf("glob(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func TestParseFlags(t *testing.T) {
	now := time.Date(2025, 11, 3, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2025-11-03T14:00:00Z", time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)},
		{"2025-11-03T16:00:00+02:00", time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)},
		{"1h", now.Add(-time.Hour)},
		{"90s", now.Add(-90 * time.Second)},
		{"2d", now.Add(-48 * time.Hour)},
		{"1d12h", now.Add(-36 * time.Hour)},
	} {
		got, err := ParseTime(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2025-11-03", "d", "1x"} {
		if _, err := ParseTime(bad, now); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseTime(%q): error %v, want one naming the value", bad, err)
		}
	}
	if got, err := ParseStatuses("460, 502,5xx"); err != nil || len(got) != 3 || got[0] != 460 || got[2] != 5 {
		t.Errorf("ParseStatuses = %v, %v", got, err)
	}
	for _, bad := range []string{"abc", "99", "6xx", "1000", ""} {
		if _, err := ParseStatuses(bad); err == nil {
			t.Errorf("ParseStatuses(%q) accepted", bad)
		}
	}
	if ap, err := ParseTarget("[2001:db8::1]:8080"); err != nil || ap != netip.MustParseAddrPort("[2001:db8::1]:8080") {
		t.Errorf("ParseTarget IPv6 = %v, %v", ap, err)
	}
	if ap, err := ParseTarget("10.0.0.5"); err != nil || ap.Port() != 0 {
		t.Errorf("ParseTarget IP = %v, %v", ap, err)
	}
	if _, err := ParseTarget("host:80"); err == nil {
		t.Error("ParseTarget accepted a host name")
	}
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	b := NewProgressBar(&out)
	b.Update(Progress{Elapsed: 500 * time.Millisecond, ReadBytes: 10, Total: 100})
	if out.Len() != 0 {
		t.Fatalf("drew before a second had passed: %q", out.String())
	}
	b.Update(Progress{Elapsed: 2 * time.Second, ReadBytes: 400_000_000, Total: 1_000_000_000, Lines: 650_000})
	line := out.String()
	for _, want := range []string{"\r[", " 40% of 1.0 GB", "400.0 MB read", "650,000 lines", "200.0 MB/s", "3s left"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	out.Reset()
	b.Update(Progress{Elapsed: 3 * time.Second, ReadBytes: 5_000_000, Total: -1})
	if !strings.Contains(out.String(), "reading 5.0 MB read") {
		t.Errorf("unknown-size progress: %q", out.String())
	}
	out.Reset()
	b.Update(Progress{Done: true})
	if out.String() != "\r\x1b[K" {
		t.Errorf("final update %q, want the line erased", out.String())
	}
	quiet := NewProgressBar(&out)
	out.Reset()
	quiet.Update(Progress{Done: true})
	if out.Len() != 0 {
		t.Error("a bar never shown erased a line")
	}
}

// TestRunReportsProgress checks that Run calls Progress and ends with Done.
func TestRunReportsProgress(t *testing.T) {
	c := newCorpus(t)
	buildMix(c, mixOptions{normal: 200, seed: 5})
	var last Progress
	calls := 0
	run(t, c.names(), Options{Progress: func(p Progress) { last = p; calls++ }})
	if calls == 0 || !last.Done || last.Lines != int64(len(c.recs)+len(c.bad)) || last.Total <= 0 || last.ReadBytes != last.Total {
		t.Errorf("%d progress calls, last %+v", calls, last)
	}
}
