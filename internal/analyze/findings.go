package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Finding codes. They are a contract: scripts match on them.
const (
	CodeClientsGiveUp       = "clients-give-up"
	CodeTargetClosesKeep    = "target-closes-keepalive"
	CodeSlowerThanIdle      = "target-slower-than-idle-timeout"
	CodeTargetConnectTimout = "target-connect-timeout"
	CodeNoHealthyTargets    = "no-healthy-targets"
)

// Finding is one diagnosis: what the log shows, and what to change.
type Finding struct {
	Code string `json:"code"`
	// Summary is the diagnosis in one sentence.
	Summary string `json:"summary"`
	// Count is how many requests the finding is about.
	Count int64 `json:"count"`
	// Evidence lists the facts from the log behind the diagnosis.
	Evidence []string `json:"evidence"`
	// Fix says what to change: the texts of Fixes in one paragraph.
	Fix string `json:"fix"`
	// Fixes are the changes one by one, each with its command when there is
	// one (the same ones `albatross logs explain` gives for one line).
	Fixes []Fix `json:"fixes"`
	// Values holds the numbers of the evidence for machines (seconds, counts).
	Values map[string]float64 `json:"values"`
	// TopOffenders are the target × path pairs with the most such requests.
	TopOffenders []Offender `json:"top_offenders"`
}

// Offender is a target × path pair and how many of a finding's requests it had.
type Offender struct {
	Target  string  `json:"target"`
	Path    string  `json:"path"`
	Count   int64   `json:"count"`
	Percent float64 `json:"percent"`
}

// Thresholds of the findings.
const (
	// minGiveUpCluster is how many 460s must share an elapsed time before it is
	// called the clients' timeout; a single impatient user is not a pattern.
	minGiveUpCluster = 3
	// maxBursts is how many 503 bursts a finding lists.
	maxBursts = 3
)

// secs formats milliseconds as seconds for prose: "30", "2.5", "0.123".
func secs(ms int64) string {
	s := fmt.Sprintf("%.3f", float64(ms)/1000)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return round3(100 * float64(n) / float64(of))
}

// offenders returns the top rows of a class's offenders table.
func offenders(s *shard, class int) []Offender {
	rows := s.offenders[class].sorted(func(a, b offKey) int {
		return cmp.Or(a.Target.Compare(b.Target), strings.Compare(a.Path, b.Path))
	})
	out := []Offender{}
	for _, r := range rows[:min(len(rows), DefaultTop)] {
		out = append(out, Offender{Target: targetKey(r.key.Target), Path: r.key.Path, Count: r.n, Percent: pct(r.n, s.classN[class])})
	}
	return out
}

// pathTargetTime returns the largest target_processing_time of an answer (a
// line with a target status), and how many answers, on the paths of a class's
// offenders.
func pathTargetTime(s *shard, class int) (maxMs, n int64) {
	seen := map[string]bool{}
	for k := range s.offenders[class].rows {
		if seen[k.Path] {
			continue
		}
		seen[k.Path] = true
		if p := s.paths.rows[k.Path]; p != nil {
			maxMs = max(maxMs, p.v.AnswerTime.MaxMs)
			n += p.v.AnswerTime.N
		}
	}
	return maxMs, n
}

// findings diagnoses the merged shard.
func findings(s *shard) []Finding {
	out := []Finding{}
	if f, ok := giveUp(s); ok {
		out = append(out, f)
	}
	if f, ok := keepAlive(s); ok {
		out = append(out, f)
	}
	if f, ok := idle504(s); ok {
		out = append(out, f)
	}
	if f, ok := connect504(s); ok {
		out = append(out, f)
	}
	if f, ok := noTargets(s); ok {
		out = append(out, f)
	}
	return out
}

// giveUp: 460s whose elapsed time clusters at one value are clients with a
// fixed timeout shorter than what the target needs.
func giveUp(s *shard) (Finding, bool) {
	h := &s.elapsed[classGiveUp]
	cl, ok := h.topCluster()
	if !ok || cl.Count < minGiveUpCluster || 2*cl.Count < h.n {
		return Finding{}, false
	}
	maxMs, measured := pathTargetTime(s, classGiveUp)
	f := Finding{
		Code:  CodeClientsGiveUp,
		Count: s.classN[classGiveUp],
		Evidence: []string{
			fmt.Sprintf("%s of %s 460s (%.1f%%) ended %s-%s s after the load balancer received the request (time − request_creation_time): the clients gave up after about %s s.",
				count(cl.Count), count(h.n), pct(cl.Count, h.n), secs(cl.LowMs), secs(cl.HighMs), secs(cl.CenterMs)),
		},
		Values: map[string]float64{
			"client_timeout_seconds": seconds(cl.CenterMs),
			"cluster_low_seconds":    seconds(cl.LowMs),
			"cluster_high_seconds":   seconds(cl.HighMs),
			"cluster_count":          float64(cl.Count),
		},
		TopOffenders: offenders(s, classGiveUp),
	}
	switch {
	case measured == 0:
		f.Summary = fmt.Sprintf("clients time out after about %s s; the target answered no request on these paths in the log", secs(cl.CenterMs))
	case maxMs >= cl.LowMs:
		f.Summary = fmt.Sprintf("clients time out after about %s s; the target needs up to %s s on these paths", secs(cl.CenterMs), secs(maxMs))
	default:
		f.Summary = fmt.Sprintf("clients time out after about %s s on requests the target never answered; it answers these paths within %s s otherwise", secs(cl.CenterMs), secs(maxMs))
	}
	if measured > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("On the same paths the target took up to %s s to answer (target_processing_time, %s answered requests).", secs(maxMs), count(measured)))
		f.Values["target_max_seconds"] = seconds(maxMs)
	}
	g := giveUpFacts{elb: topELB(s), clientSec: seconds(cl.CenterMs), targetMaxSec: -1}
	if measured > 0 {
		g.targetMaxSec = seconds(maxMs)
	}
	if g.hung() {
		g.clientSec = seconds(cl.LowMs) // unanswered after at least this long
	}
	if len(f.TopOffenders) > 0 {
		g.target, g.url = f.TopOffenders[0].Target, f.TopOffenders[0].Path
	}
	f.Fixes = giveUpFixes(g)
	f.Fix = fixText(f.Fixes)
	return f, true
}

// keepAlive: 502s without a target status that failed at once are the target
// closing a kept-alive connection as the load balancer reused it.
func keepAlive(s *shard) (Finding, bool) {
	n := s.classN[classKeepAlive]
	if n == 0 {
		return Finding{}, false
	}
	h := &s.elapsed[classKeepAlive]
	var served int64 // requests the same targets answered with a status
	seen := map[string]bool{}
	for k := range s.offenders[classKeepAlive].rows {
		key := targetKey(k.Target)
		if seen[key] {
			continue
		}
		seen[key] = true
		if t := s.targets.rows[k.Target]; t != nil {
			served += t.v.Answered
		}
	}
	f := Finding{
		Code:    CodeTargetClosesKeep,
		Count:   n,
		Summary: "targets close kept-alive connections that the load balancer reuses: their keep-alive timeout is shorter than the load balancer's idle timeout",
		Evidence: []string{
			fmt.Sprintf("%s 502s with a target chosen, no target status, no error_reason and target_processing_time -1: the target never answered.", count(n)),
		},
		Values:       map[string]float64{"count": float64(n), "targets_other_requests": float64(served)},
		TopOffenders: offenders(s, classKeepAlive),
	}
	f.Fixes = keepAliveFixes(topTarget(f.TopOffenders))
	f.Fix = fixText(f.Fixes)
	if h.n > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("They failed within %s s of arriving (at most %s s): the connection broke as the request was sent, not after a timeout.", secs(keepAliveMaxMs), secs(h.max)))
		f.Values["max_elapsed_seconds"] = seconds(h.max)
	}
	if served > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("The same targets answered %s other requests (a target status is logged), so they were up and reachable.", count(served)))
	}
	return f, true
}

// idle504: 504s with a target, outside the connect timeout, are the target not
// sending response headers within the idle timeout.
func idle504(s *shard) (Finding, bool) {
	h := &s.elapsed[classIdle504]
	cl, ok := h.topCluster()
	if !ok || 2*cl.Count < h.n {
		return Finding{}, false
	}
	maxMs, measured := pathTargetTime(s, classIdle504)
	f := Finding{
		Code:    CodeSlowerThanIdle,
		Count:   s.classN[classIdle504],
		Summary: fmt.Sprintf("targets did not answer within the load balancer's idle timeout (about %s s)", secs(cl.CenterMs)),
		Evidence: []string{
			fmt.Sprintf("%s of %s 504s with a target chosen (%.1f%%) ended %s-%s s after the request arrived (time − request_creation_time), at about %s s: the idle timeout.",
				count(cl.Count), count(h.n), pct(cl.Count, h.n), secs(cl.LowMs), secs(cl.HighMs), secs(cl.CenterMs)),
		},
		Values: map[string]float64{
			"idle_timeout_seconds": seconds(cl.CenterMs),
			"cluster_count":        float64(cl.Count),
		},
		TopOffenders: offenders(s, classIdle504),
	}
	if measured > 0 {
		f.Evidence = append(f.Evidence, fmt.Sprintf("When the target did answer on these paths it took up to %s s (%s requests).", secs(maxMs), count(measured)))
		f.Values["target_max_seconds"] = seconds(maxMs)
	}
	f.Fixes = idleFixes(topELB(s), seconds(cl.CenterMs))
	f.Fix = fixText(f.Fixes)
	return f, true
}

// connect504: 504s at ALB's fixed 10 s connect timeout are targets that did
// not accept the TCP connection.
func connect504(s *shard) (Finding, bool) {
	n := s.classN[classConnect504]
	if n == 0 {
		return Finding{}, false
	}
	f := Finding{
		Code:    CodeTargetConnectTimout,
		Count:   n,
		Summary: "targets did not accept TCP connections within the load balancer's 10 s connect timeout",
		Evidence: []string{
			fmt.Sprintf("%s 504s with a target chosen ended about 10 s after the request arrived (time − request_creation_time), ALB's fixed target connect timeout.", count(n)),
		},
		Values:       map[string]float64{"count": float64(n)},
		TopOffenders: offenders(s, classConnect504),
	}
	f.Fixes = connectFixes(topTarget(f.TopOffenders))
	f.Fix = fixText(f.Fixes)
	return f, true
}

// topTarget is the target of the first offender, "" when none has one.
func topTarget(offs []Offender) string {
	if len(offs) == 0 || offs[0].Target == "-" {
		return ""
	}
	return offs[0].Target
}

// topELB is the load balancer (app/NAME/ID) with the most lines.
func topELB(s *shard) string {
	rows := s.elbs.sorted(strings.Compare)
	if len(rows) == 0 {
		return ""
	}
	return rows[0].key
}

// burst is a run of consecutive minutes with load-balancer 503s.
type burst struct {
	from, to time.Time // first and last minute
	count    int64
}

// noTargets: 503s the load balancer generated, grouped into bursts of
// consecutive minutes.
func noTargets(s *shard) (Finding, bool) {
	n := s.classN[class503]
	if n == 0 {
		return Finding{}, false
	}
	var mins []int64
	for m, r := range s.minutes.rows {
		if r.v[4+2] > 0 {
			mins = append(mins, m)
		}
	}
	slices.Sort(mins)
	var bursts []burst
	for i, m := range mins {
		c := s.minutes.rows[m].v[4+2]
		if i > 0 && m == mins[i-1]+1 {
			b := &bursts[len(bursts)-1]
			b.to = time.Unix(m*60, 0).UTC()
			b.count += c
			continue
		}
		t := time.Unix(m*60, 0).UTC()
		bursts = append(bursts, burst{from: t, to: t, count: c})
	}
	f := Finding{
		Code:    CodeNoHealthyTargets,
		Count:   n,
		Summary: "the load balancer had no target to send requests to (503)",
		Evidence: []string{
			fmt.Sprintf("%s 503s generated by the load balancer (no target chosen, no target status) in %d burst(s) of consecutive minutes.", count(n), len(bursts)),
		},
		Values:       map[string]float64{"count": float64(n), "bursts": float64(len(bursts))},
		TopOffenders: offenders(s, class503),
	}
	slices.SortStableFunc(bursts, func(a, b burst) int { return cmp.Compare(b.count, a.count) })
	for _, b := range bursts[:min(len(bursts), maxBursts)] {
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s between %s and %s.", count(b.count), b.from.Format("2006-01-02T15:04Z"), b.to.Add(time.Minute).Format("15:04Z")))
	}
	if len(bursts) > 0 {
		f.Values["largest_burst"] = float64(bursts[0].count)
	}
	var groups []string
	for _, g := range s.groups503.sorted(strings.Compare)[:min(len(s.groups503.rows), 3)] {
		groups = append(groups, g.key)
	}
	if len(groups) > 0 {
		f.Evidence = append(f.Evidence, "Target groups: "+strings.Join(groups, ", ")+".")
	}
	tg := ""
	if len(groups) > 0 {
		tg = groups[0]
	}
	f.Fixes = noTargetsFixes(tg)
	f.Fix = fixText(f.Fixes)
	return f, true
}
