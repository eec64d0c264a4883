// Package doctor measures every timeout on the path a request takes through a
// load balancer (client, load balancer idle timeout, target keep-alive, target
// response and headers timeouts), checks them against the ordering rules of
// internal/config, and reports findings with the evidence and the exact fix. It
// is what `albatross doctor` runs; it works against any HTTP target, so a team on
// AWS can point it at the backends of a real ALB.
package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// DefaultProbeTimeout bounds how long doctor holds an idle connection (or an
// unfinished request head) waiting for the target to close it: longer than
// nginx's 75 s keepalive_timeout would be pointless for most targets.
const DefaultProbeTimeout = 75 * time.Second

// Options configures a run.
type Options struct {
	// ClientTimeout is the clients' request timeout; 0 when not given.
	ClientTimeout time.Duration
	// ProbeTimeout bounds each wait for a close (DefaultProbeTimeout).
	ProbeTimeout time.Duration
	// Path is an extra path whose response time is measured, besides the
	// health check path.
	Path string
	// Progress receives one line per thing found while the probes run (nil:
	// none).
	Progress io.Writer
}

// Path is one listener → target group → target path and what applies to it.
type Path struct {
	// LoadBalancer, Listener ("ADDRESS:PORT") and TargetGroup are empty when
	// the target was given with --target.
	LoadBalancer string `json:"load_balancer,omitempty"`
	Listener     string `json:"listener,omitempty"`
	TargetGroup  string `json:"target_group,omitempty"`
	Target       string `json:"target"`
	// IdleTimeoutSeconds is the load balancer's idle_timeout.timeout_seconds.
	IdleTimeoutSeconds float64 `json:"idle_timeout_seconds"`
	// ClientKeepAliveSeconds is client_keep_alive.seconds (config only).
	ClientKeepAliveSeconds float64 `json:"client_keep_alive_seconds,omitempty"`
	// ClientTimeoutSeconds is the client timeout given, if any.
	ClientTimeoutSeconds *float64 `json:"client_timeout_seconds,omitempty"`
	// TargetIdleLimitSeconds is how long Albatross keeps an idle target
	// connection by configuration: target_keep_alive.idle_timeout_seconds, or
	// the idle timeout.
	TargetIdleLimitSeconds float64 `json:"target_idle_limit_seconds"`
	// HealthCheckPath is the path probed for response time (and keep-alive).
	HealthCheckPath string `json:"health_check_path"`
	// Probe is what was measured of the target.
	Probe *Probe `json:"probe"`
	// Checks are the ordering rules a healthy path keeps, each checked.
	Checks []Check `json:"checks"`

	lb       config.LoadBalancerAttributes
	tg       config.TargetGroupAttributes
	albatros bool // the path is an Albatross configuration (not --target)
	probeKey probeRequest
}

// Check is one ordering rule applied to a path.
type Check struct {
	Rule string `json:"rule"`
	// OK is false when the rule is broken; Skipped when a value it needs is
	// unknown (a client timeout not given, a close not seen).
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail"`
}

// Severities of findings. Exit status 1 means at least one warning or error.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
	SeverityError   = "error"
)

// Finding is one thing to change (or to know), with a stable code.
type Finding struct {
	Code     string         `json:"code"`
	Severity string         `json:"severity"`
	Target   string         `json:"target"`
	Path     string         `json:"path,omitempty"`
	Message  string         `json:"message"`
	Evidence map[string]any `json:"evidence"`
	Fix      string         `json:"fix"`
}

// Report is the outcome of a run.
type Report struct {
	Paths    []*Path   `json:"paths"`
	Findings []Finding `json:"findings"`
}

// ExitStatus is 0 when no finding is a warning or worse, 1 otherwise, and 2 when
// a target could not be probed.
func (r *Report) ExitStatus() int {
	status := 0
	for _, p := range r.Paths {
		if p.Probe != nil && p.Probe.Error != "" {
			return 2
		}
	}
	for _, f := range r.Findings {
		if f.Severity == SeverityWarning || f.Severity == SeverityError {
			status = 1
		}
	}
	return status
}

// PathsFromConfig lists the paths of a configuration: every load balancer's
// listeners, each target group their rules and default actions forward to, and
// each of its targets. It first runs the configuration's own ordering rules
// (config.CheckTimeouts).
func PathsFromConfig(cfg *config.Config) ([]*Path, error) {
	if ps := config.CheckTimeouts(cfg); len(ps) > 0 {
		return nil, &config.ValidationError{Problems: ps}
	}
	var paths []*Path
	for _, lb := range cfg.LoadBalancers {
		for _, l := range lb.Listeners {
			actions := append([]config.Action(nil), l.DefaultActions...)
			for _, r := range l.Rules {
				actions = append(actions, r.Actions...)
			}
			seen := map[string]bool{}
			for _, a := range actions {
				for _, fw := range a.ForwardTargetGroups() {
					tg := cfg.TargetGroup(fw.Name)
					if tg == nil || seen[tg.Name] {
						continue
					}
					seen[tg.Name] = true
					paths = append(paths, groupPaths(lb, l, tg)...)
				}
			}
		}
	}
	return paths, nil
}

// groupPaths is one path per target of tg behind listener l of lb.
func groupPaths(lb config.LoadBalancer, l config.Listener, tg *config.TargetGroup) []*Path {
	hcPath := tg.HealthCheck.Path
	if hcPath == "" {
		hcPath = config.DefaultHealthCheckPath
	}
	var paths []*Path
	for _, t := range tg.Targets {
		paths = append(paths, &Path{
			LoadBalancer: lb.Name,
			Listener:     net.JoinHostPort(l.Address, strconv.Itoa(l.Port)),
			TargetGroup:  tg.Name, Target: net.JoinHostPort(t.ID, strconv.Itoa(t.Port)),
			IdleTimeoutSeconds:     lb.Attrs.IdleTimeout.Seconds(),
			ClientKeepAliveSeconds: lb.Attrs.ClientKeepAlive.Seconds(),
			TargetIdleLimitSeconds: config.TargetIdleLimit(tg.Attrs, lb.Attrs).Seconds(),
			HealthCheckPath:        hcPath,
			lb:                     lb.Attrs, tg: tg.Attrs, albatros: true,
		})
	}
	return paths
}

// PathsFromTargets lists one path per target address ("host:port") behind a load
// balancer whose idle timeout is idle, probing path ("/" when empty).
func PathsFromTargets(targets []string, idle time.Duration, path string) ([]*Path, error) {
	if path == "" {
		path = "/"
	}
	var paths []*Path
	for _, t := range targets {
		if _, _, err := net.SplitHostPort(t); err != nil {
			return nil, fmt.Errorf("--target %q: want host:port: %w", t, err)
		}
		lb := config.LoadBalancerAttributes{IdleTimeout: idle}
		paths = append(paths, &Path{
			Target: t, IdleTimeoutSeconds: idle.Seconds(), TargetIdleLimitSeconds: idle.Seconds(),
			HealthCheckPath: path, lb: lb,
		})
	}
	return paths, nil
}

// Run probes the targets of paths (each target once, all at the same time) and
// returns the report. ctx cancels the probes.
func Run(ctx context.Context, paths []*Path, opts Options) *Report {
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(opts.Progress, "doctor: "+format+"\n", args...)
	}
	// A response is waited for longer than anything on the path would wait:
	// that is how a target slower than the idle or client timeout shows.
	probes := map[string]*Probe{}
	var reqs []probeRequest
	for _, p := range paths {
		wait := max(p.lb.IdleTimeout, opts.ClientTimeout) + time.Second
		wait = min(wait, opts.ProbeTimeout)
		pr := probeRequest{addr: p.Target, paths: []string{p.HealthCheckPath}, responseWait: wait}
		if opts.Path != "" && opts.Path != p.HealthCheckPath {
			pr.paths = append(pr.paths, opts.Path)
		}
		p.probeKey = pr
		key := probeKey(pr)
		if _, ok := probes[key]; !ok {
			probes[key] = nil
			reqs = append(reqs, pr)
		}
	}
	say("probing %d target(s); waiting up to %v for each to close an idle connection", len(reqs), opts.ProbeTimeout)
	var wg sync.WaitGroup
	results := make([]*Probe, len(reqs))
	for i, pr := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = probeTarget(ctx, pr, opts.ProbeTimeout, say)
			say("%s: done", pr.addr)
		}()
	}
	wg.Wait()
	for i, pr := range reqs {
		probes[probeKey(pr)] = results[i]
	}
	r := &Report{Paths: paths, Findings: []Finding{}}
	for _, p := range paths {
		p.Probe = probes[probeKey(p.probeKey)]
		if opts.ClientTimeout > 0 {
			s := opts.ClientTimeout.Seconds()
			p.ClientTimeoutSeconds = &s
		}
		p.Checks = checks(p, opts)
		r.Findings = append(r.Findings, findings(p, opts)...)
	}
	return r
}

func probeKey(pr probeRequest) string {
	return fmt.Sprint(pr.addr, pr.paths, pr.responseWait)
}

// name is how a path is written in text output and findings.
func (p *Path) name() string {
	if p.LoadBalancer == "" {
		return p.Target
	}
	return fmt.Sprintf("%s %s → %s → %s", p.LoadBalancer, p.Listener, p.TargetGroup, p.Target)
}

// seconds turns a measured value into a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// targetKeepAlive is the target's keep-alive timeout as measured (or, when it
// kept the connection through the probe, as announced), and whether one is
// known.
func (p *Path) targetKeepAlive() (time.Duration, bool) {
	pr := p.Probe
	if pr == nil || pr.Error != "" || pr.KeepAliveError != "" || !pr.KeepAlive {
		return 0, false
	}
	if pr.IdleCloseSeconds != nil {
		return seconds(*pr.IdleCloseSeconds), true
	}
	return 0, false
}

// albatrossEviction is the idle age after which Albatross stops reusing a
// connection to this target, once it has seen one close or read the target's
// Keep-Alive header (upstream's rules), and whether it holds from the first
// request (by configuration or by the header).
func (p *Path) albatrossEviction(ka time.Duration) (evict time.Duration, fromFirst bool) {
	limit := config.TargetIdleLimit(p.tg, p.lb)
	evict = min(limit, ka-upstream.Margin(ka))
	fromFirst = limit < ka
	if h := p.Probe.KeepAliveHeaderSeconds; h != nil && *h > 0 {
		hd := time.Duration(*h) * time.Second
		evict = min(evict, hd-upstream.Margin(hd))
		fromFirst = fromFirst || hd-upstream.Margin(hd) < ka
	}
	return evict, fromFirst
}

// slowest is the longest response time measured on the path, and whether a
// request got no response at all.
func (p *Path) slowest() (Response, bool) {
	var worst Response
	found := false
	if p.Probe == nil {
		return worst, false
	}
	for _, r := range p.Probe.Responses {
		if r.Error != "" {
			continue
		}
		if !found || r.TimedOut || (!worst.TimedOut && r.Seconds > worst.Seconds) {
			worst, found = r, true
		}
	}
	return worst, found
}
