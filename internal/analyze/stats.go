package analyze

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// Table limits: how many keys each table keeps exactly (see table). They bound
// memory whatever the input size; a report says when one was exceeded.
const (
	limitTargets   = 4096
	limitPaths     = 8192
	limitMinutes   = 1 << 16 // 45 days of minutes with errors
	limitReasons   = 1024
	limitOffenders = 4096
	limitGroups    = 256
)

// The ELB status codes the errors breakdown and the findings are about.
var errorCodes = [4]int{460, 502, 503, 504}

// errIndex returns code's index in errorCodes, or -1.
func errIndex(code int) int {
	switch code {
	case 460:
		return 0
	case 502:
		return 1
	case 503:
		return 2
	case 504:
		return 3
	}
	return -1
}

// Latency series, in the order of shard.lat.
const (
	latRequest = iota
	latTarget
	latResponse
	latElapsed
	numLat
)

// Finding classes of load-balancer-generated errors (target_status_code "-"),
// each with its own elapsed-time histogram and offenders table.
const (
	classGiveUp     = iota // 460
	classKeepAlive         // 502, target chosen, no error_reason, target time -1, failed within a second
	classIdle504           // 504 with a target, not at the connect timeout
	classConnect504        // 504 with a target at ALB's 10 s connect timeout
	class503               // 503
	numClasses
)

// keepAliveMaxMs is how quickly a 502 must fail to count as the keep-alive
// race: the target's close is seen as soon as the request is written, never
// after a timeout.
const keepAliveMaxMs = 1000

// connectTimeoutMs is ALB's fixed target connect timeout: 504s that cluster
// here are connection failures, not slow responses.
const connectTimeoutMs = 10_000

// keyStats is what a table keeps per target or path.
type keyStats struct {
	Classes    [6]int64 // by elb_status_code class: [1]=1xx ... [5]=5xx, [0]=other
	Errors     [4]int64 // elb_status_code 460, 502, 503, 504
	FromTarget int64    // of Errors, lines where the target answered that status itself
	Answered   int64    // lines with a target status (the target answered)
	TargetTime durSum   // measured target_processing_time
	AnswerTime durSum   // of it, on lines the target answered (a status)
	SentBytes  int64
}

// durSum sums measured durations in milliseconds.
type durSum struct{ N, SumMs, MaxMs int64 }

func (d *durSum) add(v time.Duration) {
	if v < 0 {
		return
	}
	ms := int64(v / time.Millisecond)
	d.N++
	d.SumMs += ms
	d.MaxMs = max(d.MaxMs, ms)
}

func (d *durSum) merge(o *durSum) {
	d.N += o.N
	d.SumMs += o.SumMs
	d.MaxMs = max(d.MaxMs, o.MaxMs)
}

func (k *keyStats) add(e *accesslog.Entry) {
	class := e.ELBStatusCode / 100
	if class < 1 || class > 5 {
		class = 0
	}
	k.Classes[class]++
	if i := errIndex(e.ELBStatusCode); i >= 0 {
		k.Errors[i]++
		if e.TargetStatusCode != 0 {
			k.FromTarget++
		}
	}
	if e.TargetStatusCode != 0 {
		k.Answered++
		// Only an answer's target_processing_time is how long the target
		// took; a 460's (when ALB measures one) is how long the client
		// waited for it.
		k.AnswerTime.add(e.TargetProcessingTime)
	}
	k.TargetTime.add(e.TargetProcessingTime)
	k.SentBytes += e.SentBytes
}

func mergeKeyStats(dst, src *keyStats) {
	for i := range dst.Classes {
		dst.Classes[i] += src.Classes[i]
	}
	for i := range dst.Errors {
		dst.Errors[i] += src.Errors[i]
	}
	dst.FromTarget += src.FromTarget
	dst.Answered += src.Answered
	dst.TargetTime.merge(&src.TargetTime)
	dst.AnswerTime.merge(&src.AnswerTime)
	dst.SentBytes += src.SentBytes
}

// errCounts counts elb_status_code 460, 502, 503, 504 (one minute's worth):
// all of them in [0:4], those the load balancer generated (no target status)
// in [4:8].
type errCounts [8]int64

func mergeErrCounts(dst, src *errCounts) {
	for i := range dst {
		dst[i] += src[i]
	}
}

// reasonKey is an error_reason value with the status it came with.
type reasonKey struct {
	Reason string
	Status int
}

// offKey is a target × path pair in an offenders table.
type offKey struct {
	Target netip.AddrPort
	Path   string
}

// sample is a malformed line: where it is and what is wrong with it.
type sample struct {
	src, seq, line int // source, chunk within the source, line within the chunk
	err            string
}

func sampleCmp(a, b sample) int {
	return cmp.Or(cmp.Compare(a.src, b.src), cmp.Compare(a.seq, b.seq), cmp.Compare(a.line, b.line))
}

// shard is one worker's aggregate; shards merge into the final one.
type shard struct {
	filter     *Filter
	maxSamples int
	lines      int64 // lines read
	requests   int64 // parsed lines the filter kept
	malformed  int64
	// cut counts the lines read that end before field 18, by the number of
	// fields they hold (13 to 17); cut[0] is unused.
	cut         [accesslog.MinFields]int64
	samples     []sample
	first, last time.Time
	elb         [1000]int64 // by elb_status_code; [0] = "-"
	tgt         [1000]int64 // by target_status_code; [0] = "-"
	received    int64
	sent        int64
	lat         [numLat]hist
	classN      [numClasses]int64 // lines of each finding class
	elapsed     [numClasses]hist  // their time − request_creation_time
	targets     *table[netip.AddrPort, keyStats]
	paths       *table[string, keyStats]
	minutes     *table[int64, errCounts] // unix minute → errors in it
	reasons     *table[reasonKey, struct{}]
	offenders   [numClasses]*table[offKey, struct{}]
	groups503   *table[string, struct{}] // target_group_arn of 503s
	elbs        *table[string, struct{}] // elb field: the load balancers
	// bySource counts the kept requests of each input (by its index), for
	// the report's by-node table.
	bySource []sourceCounts

	entry accesslog.Entry
	norm  []byte // scratch for the normalised path
}

func newShard(f *Filter, maxSamples int) *shard {
	s := &shard{
		filter:     f,
		maxSamples: maxSamples,
		targets:    newTable[netip.AddrPort, keyStats](limitTargets),
		paths:      newTable[string, keyStats](limitPaths),
		minutes:    newTable[int64, errCounts](limitMinutes),
		reasons:    newTable[reasonKey, struct{}](limitReasons),
		groups503:  newTable[string, struct{}](limitGroups),
		elbs:       newTable[string, struct{}](limitGroups),
	}
	for i := range s.offenders {
		s.offenders[i] = newTable[offKey, struct{}](limitOffenders)
	}
	return s
}

// view returns b as a string that is valid only while b is unchanged: for map
// lookups, which do not keep their key.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func ownReason(k reasonKey) reasonKey { k.Reason = strings.Clone(k.Reason); return k }

// line parses and counts one line; src, seq and n say where it is for a
// malformed-line report.
func (s *shard) line(b []byte, src, seq, n int) {
	s.lines++
	e := &s.entry
	if err := accesslog.ParseLine(b, e); err != nil {
		s.bad(src, seq, n, err.Error())
		return
	}
	if e.Cut() {
		s.cut[e.Fields]++
	}
	path := requestPath(e.Request)
	s.norm = s.norm[:0]
	if path == nil {
		s.norm = append(s.norm, '-')
	} else {
		s.norm = normalizePath(s.norm, path)
	}
	if !s.filter.match(e, path, s.norm) {
		return
	}
	s.add(e)
	if src >= len(s.bySource) {
		s.bySource = append(s.bySource, make([]sourceCounts, src+1-len(s.bySource))...)
	}
	s.bySource[src].add(e.ELBStatusCode)
}

// sourceCounts are the requests of one input, and of those the load
// balancer's 460s and 5XXs.
type sourceCounts struct {
	requests, elb460, elb5xx int64
}

func (c *sourceCounts) add(elbStatus int) {
	c.requests++
	switch {
	case elbStatus == 460:
		c.elb460++
	case elbStatus >= 500 && elbStatus < 600:
		c.elb5xx++
	}
}

// bad records a malformed line, keeping the earliest maxSamples of them.
func (s *shard) bad(src, seq, n int, msg string) {
	s.malformed++
	if s.maxSamples <= 0 {
		return
	}
	s.samples = append(s.samples, sample{src, seq, n, msg})
	if len(s.samples) >= 2*s.maxSamples {
		s.trimSamples()
	}
}

func (s *shard) trimSamples() {
	slices.SortFunc(s.samples, sampleCmp)
	if len(s.samples) > s.maxSamples {
		s.samples = slices.Clip(s.samples[:s.maxSamples])
	}
}

// add counts an entry the filter kept; s.norm holds its normalised path.
func (s *shard) add(e *accesslog.Entry) {
	s.requests++
	if !e.Time.IsZero() {
		if s.first.IsZero() || e.Time.Before(s.first) {
			s.first = e.Time
		}
		if e.Time.After(s.last) {
			s.last = e.Time
		}
	}
	s.elb[e.ELBStatusCode%1000]++ // ParseLine only returns 0 or 100-999
	s.tgt[e.TargetStatusCode%1000]++
	s.received += e.ReceivedBytes
	s.sent += e.SentBytes
	s.lat[latRequest].add(e.RequestProcessingTime)
	s.lat[latTarget].add(e.TargetProcessingTime)
	s.lat[latResponse].add(e.ResponseProcessingTime)
	elapsed := lineElapsedMs(e)
	s.lat[latElapsed].addMs(elapsed)

	if e.ELB != "" {
		s.elbs.get(e.ELB, strings.Clone).n++
	}
	t := s.targets.get(e.Target, nil)
	t.n++
	t.v.add(e)
	p := s.paths.get(view(s.norm), strings.Clone)
	p.n++
	p.v.add(e)

	i := errIndex(e.ELBStatusCode)
	if i < 0 {
		return
	}
	if !e.Time.IsZero() {
		m := s.minutes.get(e.Time.Unix()/60, nil)
		m.n++
		m.v[i]++
		if e.TargetStatusCode == 0 {
			m.v[4+i]++
		}
	}
	if e.ErrorReason != "" {
		s.reasons.get(reasonKey{e.ErrorReason, e.ELBStatusCode}, ownReason).n++
	}
	if e.TargetStatusCode != 0 {
		return // the target's own status, passed through
	}
	key := offKey{Target: e.Target, Path: p.key}
	class := classOf(e, elapsed)
	if class == class503 && e.TargetGroupARN != "" {
		s.groups503.get(e.TargetGroupARN, strings.Clone).n++
	}
	if class < 0 {
		return
	}
	s.classN[class]++
	s.elapsed[class].addMs(elapsed)
	s.offenders[class].get(key, nil).n++
}

// classOf is the finding class of a line the load balancer answered itself
// (target_status_code "-"), -1 when it is in none; elapsed is its time −
// request_creation_time in milliseconds, -1 when unknown. logs errors counts
// lines with it and logs explain reads one line with it.
func classOf(e *accesslog.Entry, elapsed int64) int {
	if e.TargetStatusCode != 0 {
		return -1 // the target's own status, passed through
	}
	switch e.ELBStatusCode {
	case 460:
		return classGiveUp
	case 502:
		if e.Target.IsValid() && e.ErrorReason == "" && e.TargetProcessingTime < 0 && elapsed < keepAliveMaxMs {
			return classKeepAlive
		}
	case 503:
		return class503
	case 504:
		if e.Target.IsValid() {
			if elapsed >= 0 && nearConnectTimeout(elapsed) {
				return classConnect504
			}
			return classIdle504
		}
	}
	return -1
}

// nearConnectTimeout reports whether an elapsed time is ALB's 10 s connect
// timeout, within the cluster window.
func nearConnectTimeout(ms int64) bool {
	w := clusterWindow(connectTimeoutMs)
	return ms >= connectTimeoutMs-w && ms <= connectTimeoutMs+w
}

// merge adds o into s.
func (s *shard) merge(o *shard) {
	if len(o.bySource) > len(s.bySource) {
		s.bySource = append(s.bySource, make([]sourceCounts, len(o.bySource)-len(s.bySource))...)
	}
	for i, c := range o.bySource {
		s.bySource[i].requests += c.requests
		s.bySource[i].elb460 += c.elb460
		s.bySource[i].elb5xx += c.elb5xx
	}
	s.lines += o.lines
	s.requests += o.requests
	s.malformed += o.malformed
	for i := range s.cut {
		s.cut[i] += o.cut[i]
	}
	s.samples = append(s.samples, o.samples...)
	s.trimSamples()
	if !o.first.IsZero() && (s.first.IsZero() || o.first.Before(s.first)) {
		s.first = o.first
	}
	if o.last.After(s.last) {
		s.last = o.last
	}
	for i := range s.elb {
		s.elb[i] += o.elb[i]
		s.tgt[i] += o.tgt[i]
	}
	s.received += o.received
	s.sent += o.sent
	for i := range s.lat {
		s.lat[i].merge(&o.lat[i])
	}
	for i := range s.elapsed {
		s.classN[i] += o.classN[i]
		s.elapsed[i].merge(&o.elapsed[i])
		s.offenders[i].merge(o.offenders[i], nil)
	}
	s.targets.merge(o.targets, mergeKeyStats)
	s.paths.merge(o.paths, mergeKeyStats)
	s.minutes.merge(o.minutes, mergeErrCounts)
	s.reasons.merge(o.reasons, nil)
	s.groups503.merge(o.groups503, nil)
	s.elbs.merge(o.elbs, nil)
}
