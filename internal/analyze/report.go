package analyze

import (
	"cmp"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// DefaultTop is how many rows the top tables of a report hold.
const DefaultTop = 10

// Report is the result of Run: the JSON document of `albatross logs --format
// json`, documented field by field in docs/logs.md. Durations are in seconds.
type Report struct {
	// Requests is the number of parsed lines the filter kept.
	Requests int64 `json:"requests"`
	// Lines is every line read, malformed ones included.
	Lines int64 `json:"lines"`
	// Filtered is how many parsed lines the filter left out.
	Filtered int64 `json:"filtered_out"`
	// TimeRange is the earliest and latest time field among the requests.
	TimeRange *TimeRange `json:"time_range"`
	// ByELBStatus counts requests by elb_status_code ("-" when absent).
	ByELBStatus map[string]int64 `json:"by_elb_status"`
	// ByTargetStatus counts requests by target_status_code ("-" when the
	// target sent no status).
	ByTargetStatus map[string]int64 `json:"by_target_status"`
	// ByTarget and ByPath are the busiest targets ("-" for none) and
	// normalised paths, most requests first.
	ByTarget []KeyRow `json:"by_target"`
	ByPath   []KeyRow `json:"by_path"`
	// ByNode counts the requests by the load balancer node that logged
	// them: the ip_address in ALB's log file name (one node of ALB, or of an
	// Albatross cluster, writes its own files), "-" for input whose name
	// carries none (stdin, a renamed file). Most requests first.
	ByNode []NodeRow `json:"by_node"`
	// Latency summarises the processing times and the elapsed time.
	Latency Latency `json:"latency"`
	// Bytes sums received_bytes and sent_bytes.
	Bytes Bytes `json:"bytes"`
	// Errors breaks down elb_status_code 460, 502, 503 and 504.
	Errors Errors `json:"errors"`
	// Findings name what the errors mean and what to change.
	Findings []Finding `json:"findings"`
	// MalformedLines counts lines that could not be parsed; Malformed lists
	// the first of them by position.
	MalformedLines int64           `json:"malformed_lines"`
	Malformed      []MalformedLine `json:"malformed"`
	// CutLines counts the lines that end early, after the request field but
	// before field 18 (copied from a console or an article): they are read as
	// requests whose later fields are unknown. One entry per place they end.
	CutLines []CutLines `json:"cut_lines"`
	// InputErrors lists inputs that could not be read to their end.
	InputErrors []InputError `json:"input_errors"`
	// Approximate is true when a table held more keys than it keeps exactly
	// (see docs/logs.md): its smaller counts may then be low.
	Approximate bool `json:"approximate"`
	// Stats describe the run itself.
	Stats RunStats `json:"run"`
}

// TimeRange is the span of the requests' time field.
type TimeRange struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// KeyRow is one target's or path's counts.
type KeyRow struct {
	Key      string  `json:"key"`
	Requests int64   `json:"requests"`
	Percent  float64 `json:"percent"`
	// ByClass counts by elb_status_code class: "2xx", "3xx", "4xx", "5xx"
	// (and "other"); classes with no request are left out.
	ByClass map[string]int64 `json:"by_class"`
	// Errors counts elb_status_code 460, 502, 503, 504 (absent when zero).
	Errors map[string]int64 `json:"errors,omitempty"`
	// TargetTime is the mean and maximum measured target_processing_time.
	TargetTime MeanMax `json:"target_processing_time"`
	SentBytes  int64   `json:"sent_bytes"`
}

// MeanMax is a mean and a maximum in seconds, over Count values.
type MeanMax struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	Max   float64 `json:"max"`
}

// Latency holds a distribution per time field.
type Latency struct {
	RequestProcessing  Dist `json:"request_processing_time"`
	TargetProcessing   Dist `json:"target_processing_time"`
	ResponseProcessing Dist `json:"response_processing_time"`
	// Elapsed is time − request_creation_time: how long the request lived
	// in the load balancer, measured also on error lines whose processing
	// times are -1.
	Elapsed Dist `json:"elapsed"`
}

// Dist is a latency distribution in seconds. Percentiles are nearest-rank:
// exact below 1.024 s, within 0.1% above (docs/logs.md).
type Dist struct {
	// Count is how many lines had a measured value; NotMeasured how many had
	// -1 (or, for elapsed, no request_creation_time).
	Count       int64   `json:"count"`
	NotMeasured int64   `json:"not_measured"`
	P50         float64 `json:"p50"`
	P90         float64 `json:"p90"`
	P99         float64 `json:"p99"`
	Max         float64 `json:"max"`
	Mean        float64 `json:"mean"`
	// Histogram counts the values in fixed ranges (seconds, upper bound
	// exclusive); empty ranges are left out.
	Histogram []HistBin `json:"histogram"`
}

// HistBin is one range of a latency histogram.
type HistBin struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"` // 0: no upper bound
	Count int64   `json:"count"`
}

// Bytes are byte totals.
type Bytes struct {
	Received int64 `json:"received"`
	Sent     int64 `json:"sent"`
}

// Errors is the breakdown of `albatross logs errors`.
type Errors struct {
	// Total counts each of 460, 502, 503, 504 (elb_status_code).
	Total map[string]int64 `json:"total"`
	// FromTarget counts those the target itself answered (target_status_code
	// equal); the rest the load balancer generated.
	FromTarget int64 `json:"from_target"`
	// ByTarget and ByPath are the targets and paths with the most errors.
	ByTarget []ErrorRow `json:"by_target"`
	ByPath   []ErrorRow `json:"by_path"`
	// ByMinute is every minute with an error, in time order.
	ByMinute []MinuteRow `json:"by_minute"`
	// ByReason counts error_reason values by status.
	ByReason []ReasonRow `json:"by_error_reason"`
}

// ErrorRow counts one key's errors by status.
type ErrorRow struct {
	Key      string           `json:"key"`
	Requests int64            `json:"requests"`
	Errors   map[string]int64 `json:"errors"`
	Total    int64            `json:"total"`
}

// MinuteRow counts one minute's errors.
type MinuteRow struct {
	Minute time.Time        `json:"minute"`
	Errors map[string]int64 `json:"errors"`
	Total  int64            `json:"total"`
}

// ReasonRow counts one error_reason.
type ReasonRow struct {
	Reason string `json:"error_reason"`
	Status int    `json:"elb_status_code"`
	Count  int64  `json:"count"`
}

// CutLines is how many lines end after field EndsAfterField.
type CutLines struct {
	EndsAfterField int `json:"ends_after_field"`
	// FieldName is ALB's name of that field.
	FieldName string `json:"field_name"`
	Count     int64  `json:"count"`
}

// MalformedLine is a line that could not be parsed.
type MalformedLine struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// InputError is an input that could not be read to its end.
type InputError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// RunStats describe a run.
type RunStats struct {
	Inputs  int     `json:"inputs"`
	Seconds float64 `json:"seconds"`
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// histBins are the ranges of Dist.Histogram, in milliseconds.
var histBins = [...]int64{0, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000}

func distOf(h *hist, total int64) Dist {
	d := Dist{Count: h.n, NotMeasured: total - h.n, Histogram: []HistBin{}}
	if h.n == 0 {
		return d
	}
	d.P50 = seconds(h.quantile(0.50))
	d.P90 = seconds(h.quantile(0.90))
	d.P99 = seconds(h.quantile(0.99))
	d.Max = seconds(h.max)
	d.Mean = round3(float64(h.sum) / float64(h.n) / 1000)
	counts := make([]int64, len(histBins))
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		low, _ := bucketRange(i)
		j, found := slices.BinarySearch(histBins[:], low)
		if !found {
			j--
		}
		counts[j] += c
	}
	for j, c := range counts {
		if c == 0 {
			continue
		}
		bin := HistBin{From: seconds(histBins[j]), Count: c}
		if j+1 < len(histBins) {
			bin.To = seconds(histBins[j+1])
		}
		d.Histogram = append(d.Histogram, bin)
	}
	return d
}

func statusKey(code int) string {
	if code == 0 {
		return "-"
	}
	return strconv.Itoa(code)
}

func targetKey(t netip.AddrPort) string {
	if !t.IsValid() {
		return "-"
	}
	return t.String() // IPv6 in brackets, as --target takes it
}

func errorMap(e *[4]int64) map[string]int64 {
	m := make(map[string]int64, 4)
	for i, n := range e {
		if n > 0 {
			m[strconv.Itoa(errorCodes[i])] = n
		}
	}
	return m
}

var classNames = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func keyRow(key string, n int64, v *keyStats, total int64) KeyRow {
	row := KeyRow{Key: key, Requests: n, ByClass: map[string]int64{}, SentBytes: v.SentBytes}
	if total > 0 {
		row.Percent = round3(100 * float64(n) / float64(total))
	}
	for i, c := range v.Classes {
		if c > 0 {
			row.ByClass[classNames[i]] = c
		}
	}
	if m := errorMap(&v.Errors); len(m) > 0 {
		row.Errors = m
	}
	row.TargetTime = meanMax(&v.TargetTime)
	return row
}

func meanMax(d *durSum) MeanMax {
	mm := MeanMax{Count: d.N, Max: seconds(d.MaxMs)}
	if d.N > 0 {
		mm.Mean = round3(float64(d.SumMs) / float64(d.N) / 1000)
	}
	return mm
}

func compareAddrPort(a, b netip.AddrPort) int { return a.Compare(b) }

// report turns the merged shard into a Report.
func (r *runner) report(s *shard, took time.Duration) *Report {
	rep := &Report{
		Requests:       s.requests,
		Lines:          s.lines,
		Filtered:       s.lines - s.malformed - s.requests,
		ByELBStatus:    map[string]int64{},
		ByTargetStatus: map[string]int64{},
		Bytes:          Bytes{Received: s.received, Sent: s.sent},
		MalformedLines: s.malformed,
		Malformed:      []MalformedLine{},
		CutLines:       []CutLines{},
		InputErrors:    r.sortedInputErrors(),
		Stats:          RunStats{Inputs: len(r.srcs), Seconds: round3(took.Seconds())},
		ByTarget:       []KeyRow{},
		ByPath:         []KeyRow{},
		Findings:       []Finding{},
	}
	if rep.InputErrors == nil {
		rep.InputErrors = []InputError{}
	}
	rep.ByNode = r.byNode(s)
	if !s.first.IsZero() {
		rep.TimeRange = &TimeRange{First: s.first, Last: s.last}
	}
	for code, n := range s.elb {
		if n > 0 {
			rep.ByELBStatus[statusKey(code)] = n
		}
		if m := s.tgt[code]; m > 0 {
			rep.ByTargetStatus[statusKey(code)] = m
		}
	}
	targets := s.targets.sorted(compareAddrPort)
	for _, t := range targets[:min(len(targets), DefaultTop)] {
		rep.ByTarget = append(rep.ByTarget, keyRow(targetKey(t.key), t.n, &t.v, s.requests))
	}
	paths := s.paths.sorted(strings.Compare)
	for _, p := range paths[:min(len(paths), DefaultTop)] {
		rep.ByPath = append(rep.ByPath, keyRow(p.key, p.n, &p.v, s.requests))
	}
	rep.Latency = Latency{
		RequestProcessing:  distOf(&s.lat[latRequest], s.requests),
		TargetProcessing:   distOf(&s.lat[latTarget], s.requests),
		ResponseProcessing: distOf(&s.lat[latResponse], s.requests),
		Elapsed:            distOf(&s.lat[latElapsed], s.requests),
	}
	for k, n := range s.cut {
		if n > 0 {
			rep.CutLines = append(rep.CutLines, CutLines{EndsAfterField: k, FieldName: accesslog.FieldName(k), Count: n})
		}
	}
	rep.Errors = errorsOf(s, targets, paths)
	rep.Findings = findings(s)
	for _, smp := range s.samples {
		rep.Malformed = append(rep.Malformed, MalformedLine{File: r.srcs[smp.src].name, Line: r.position(smp), Error: smp.err})
	}
	rep.Approximate = !s.targets.exact() || !s.paths.exact() || !s.minutes.exact() || !s.reasons.exact()
	for _, o := range s.offenders {
		rep.Approximate = rep.Approximate || !o.exact()
	}
	return rep
}

func errorsOf(s *shard, targets []*row[netip.AddrPort, keyStats], paths []*row[string, keyStats]) Errors {
	e := Errors{Total: map[string]int64{}, ByTarget: []ErrorRow{}, ByPath: []ErrorRow{}, ByMinute: []MinuteRow{}, ByReason: []ReasonRow{}}
	for _, code := range errorCodes {
		if n := s.elb[code]; n > 0 {
			e.Total[strconv.Itoa(code)] = n
		}
	}
	errRows := func(key string, n int64, v *keyStats) (ErrorRow, bool) {
		var total int64
		for _, c := range v.Errors {
			total += c
		}
		return ErrorRow{Key: key, Requests: n, Errors: errorMap(&v.Errors), Total: total}, total > 0
	}
	var from int64
	for _, t := range targets {
		if row, ok := errRows(targetKey(t.key), t.n, &t.v); ok {
			e.ByTarget = append(e.ByTarget, row)
		}
		from += t.v.FromTarget
	}
	e.FromTarget = from
	for _, p := range paths {
		if row, ok := errRows(p.key, p.n, &p.v); ok {
			e.ByPath = append(e.ByPath, row)
		}
	}
	byTotal := func(a, b ErrorRow) int { return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Key, b.Key)) }
	slices.SortStableFunc(e.ByTarget, byTotal)
	slices.SortStableFunc(e.ByPath, byTotal)
	e.ByTarget = e.ByTarget[:min(len(e.ByTarget), DefaultTop)]
	e.ByPath = e.ByPath[:min(len(e.ByPath), DefaultTop)]
	for _, m := range s.minutes.rows {
		e.ByMinute = append(e.ByMinute, MinuteRow{Minute: time.Unix(m.key*60, 0).UTC(), Errors: errorMap((*[4]int64)(m.v[:4])), Total: m.n})
	}
	slices.SortFunc(e.ByMinute, func(a, b MinuteRow) int { return a.Minute.Compare(b.Minute) })
	for _, r := range s.reasons.sorted(func(a, b reasonKey) int {
		return cmp.Or(strings.Compare(a.Reason, b.Reason), cmp.Compare(a.Status, b.Status))
	}) {
		e.ByReason = append(e.ByReason, ReasonRow{Reason: r.key.Reason, Status: r.key.Status, Count: r.n})
	}
	return e
}

// byNode groups the inputs' counts by the node their file names carry.
func (r *runner) byNode(s *shard) []NodeRow {
	rows := map[string]*NodeRow{}
	for i, src := range r.srcs {
		node := NodeOfFile(src.name)
		row := rows[node]
		if row == nil {
			row = &NodeRow{Node: node}
			rows[node] = row
		}
		row.Files++
		if i < len(s.bySource) {
			c := s.bySource[i]
			row.Requests += c.requests
			row.ELB460 += c.elb460
			row.ELB5XX += c.elb5xx
		}
	}
	out := make([]NodeRow, 0, len(rows))
	for _, row := range rows {
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b NodeRow) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), strings.Compare(a.Node, b.Node))
	})
	return out
}

// logFileName is the end of ALB's log file names:
// ..._YYYYMMDDTHHMMZ_IP_RANDOM.log[.gz].
var logFileName = regexp.MustCompile(`_(\d{8}T\d{4}Z)_([^_]+)_[0-9A-Za-z]+\.log(\.gz)?$`)

// FileInterval reads an ALB log file name: the end of the interval the file
// covers and the node that wrote it, as written; ok is false when the name
// is not ALB's.
func FileInterval(name string) (end time.Time, node string, ok bool) {
	m := logFileName.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return time.Time{}, "", false
	}
	end, err := time.Parse("20060102T1504Z", m[1])
	if err != nil {
		return time.Time{}, "", false
	}
	return end, m[2], true
}

// NodeOfFile returns the load balancer node's IP address in an ALB access log
// file name, or "-" when the name carries none.
func NodeOfFile(name string) string {
	if _, node, ok := FileInterval(name); ok {
		if ip, err := netip.ParseAddr(node); err == nil {
			return ip.String()
		}
	}
	return "-"
}

// NodeRow is one load balancer node's share of the requests.
type NodeRow struct {
	Node     string `json:"node"`
	Files    int    `json:"files"`
	Requests int64  `json:"requests"`
	// ELB460 and ELB5XX count the node's own 460s and 5XXs.
	ELB460 int64 `json:"elb_460"`
	ELB5XX int64 `json:"elb_5xx"`
}
