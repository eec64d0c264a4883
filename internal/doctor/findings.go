package doctor

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// Finding codes. They are a contract: scripts match on them.
const (
	CodeUnreachable              = "target-unreachable"
	CodeKeepAliveProbeFailed     = "target-keepalive-probe-failed"
	CodeNoKeepAlive              = "target-no-keepalive"
	CodeKeepAliveShorterThanIdle = "target-keepalive-shorter-than-idle-timeout"
	CodeClientTimeoutShorter     = "client-timeout-shorter-than-idle-timeout"
	CodeSlowerThanClientTimeout  = "target-slower-than-client-timeout"
	CodeSlowerThanIdleTimeout    = "target-slower-than-idle-timeout"
	CodeHeadersTimeoutNotAboveKA = "target-headers-timeout-not-above-keepalive"
	CodeIgnoresConnectionClose   = "target-ignores-connection-close"
)

// headroom is what a fix adds above a timeout it must exceed.
const headroom = 5 * time.Second

// checks applies the ordering rules a healthy path keeps (the config package's
// Check functions, shared with configuration validation) to one path:
//
//	client timeout > idle_timeout.timeout_seconds
//	target_keep_alive.idle_timeout_seconds <= idle_timeout.timeout_seconds
//	the load balancer's target-side idle limit < the target's keep-alive timeout
//	the target's keep-alive timeout < the target's request headers timeout
func checks(p *Path, opts Options) []Check {
	var cs []Check
	add := func(rule string, err error, okDetail string) {
		c := Check{Rule: rule, OK: err == nil, Detail: okDetail}
		if err != nil {
			c.Detail = err.Error()
		}
		cs = append(cs, c)
	}
	skip := func(rule, why string) { cs = append(cs, Check{Rule: rule, OK: true, Skipped: true, Detail: why}) }

	const clientRule = "client timeout > load balancer idle timeout"
	if opts.ClientTimeout > 0 {
		add(clientRule, config.CheckClientTimeout(opts.ClientTimeout, p.lb),
			fmt.Sprintf("the client (%v) waits longer than the load balancer (%v), so a slow target is answered with 504 rather than abandoned (460)", opts.ClientTimeout, p.lb.IdleTimeout))
	} else {
		skip(clientRule, "no --client-timeout given")
	}
	if p.albatros {
		add("target_keep_alive.idle_timeout_seconds <= idle_timeout.timeout_seconds", config.CheckTargetIdleTimeout(p.tg, p.lb),
			"the target-side limit can take effect")
	}

	limit := config.TargetIdleLimit(p.tg, p.lb)
	const kaRule = "load balancer's target-side idle < target keep-alive"
	ka, kaKnown := p.targetKeepAlive()
	ka = ka.Round(10 * time.Millisecond)
	switch {
	case kaKnown:
		add(kaRule, config.CheckTargetKeepAlive(limit, ka),
			fmt.Sprintf("the load balancer lets target connections go (after %v idle) before the target closes them (%v)", limit, ka.Round(100*time.Millisecond)))
	case p.Probe == nil || p.Probe.Error != "" || p.Probe.KeepAliveError != "":
		skip(kaRule, "the target could not be probed")
	case !p.Probe.KeepAlive:
		skip(kaRule, "the target does not keep connections alive")
	case seconds(p.Probe.ProbeTimeoutSeconds) > limit:
		add(kaRule, nil, fmt.Sprintf("the target kept an idle connection for the whole probe (%v), longer than the load balancer keeps it (%v)", seconds(p.Probe.ProbeTimeoutSeconds), limit))
	default:
		skip(kaRule, fmt.Sprintf("the target kept an idle connection for the whole probe (%v), which is not longer than the load balancer's %v: raise --probe-timeout", seconds(p.Probe.ProbeTimeoutSeconds), limit))
	}

	const hdrRule = "target keep-alive < target request headers timeout"
	switch {
	case !kaKnown:
		skip(hdrRule, "the target's keep-alive timeout is not known")
	case p.Probe.HeadersTimeoutSeconds != nil:
		hd := seconds(*p.Probe.HeadersTimeoutSeconds).Round(10 * time.Millisecond)
		add(hdrRule, config.CheckTargetHeadersTimeout(ka, hd),
			fmt.Sprintf("the target waits longer for a request head (%v) than it keeps an idle connection (%v)", hd.Round(100*time.Millisecond), ka.Round(100*time.Millisecond)))
	default:
		add(hdrRule, nil, fmt.Sprintf("the target waited for an unfinished request head for the whole probe (%v)", seconds(p.Probe.ProbeTimeoutSeconds)))
	}
	return cs
}

// findings derives the findings of one path from its configuration and probe.
func findings(p *Path, opts Options) []Finding {
	pr := p.Probe
	var fs []Finding
	add := func(f Finding) {
		f.Target, f.Path = p.Target, p.name()
		fs = append(fs, f)
	}
	if pr.Error != "" {
		add(Finding{
			Code: CodeUnreachable, Severity: SeverityError,
			Message:  "the target could not be probed: " + pr.Error,
			Evidence: map[string]any{"error": pr.Error},
			Fix:      "start the target or correct its address, and check that it accepts connections from this machine",
		})
		return fs
	}
	idle := p.lb.IdleTimeout

	if opts.ClientTimeout > 0 {
		if err := config.CheckClientTimeout(opts.ClientTimeout, p.lb); err != nil {
			add(Finding{
				Code: CodeClientTimeoutShorter, Severity: SeverityWarning,
				Message: fmt.Sprintf("clients give up after %v, before the load balancer's idle timeout (%v): a slow target is logged as 460 (client closed) instead of being answered with 504, and the client sees its own timeout, not the load balancer's answer", opts.ClientTimeout, idle),
				Evidence: map[string]any{
					"client_timeout_seconds": opts.ClientTimeout.Seconds(),
					"idle_timeout_seconds":   idle.Seconds(),
				},
				Fix: fmt.Sprintf("raise the client timeout above the idle timeout (to %v or more), or lower idle_timeout.timeout_seconds below the client timeout (to %d); for long operations, stream: send the response head and bytes as they are produced, so neither timeout expires",
					idle+headroom, max(1, int((opts.ClientTimeout-time.Second)/time.Second))),
			})
		}
	}

	if worst, ok := p.slowest(); ok {
		took := seconds(worst.Seconds)
		ev := func(limitName string, limit time.Duration) map[string]any {
			return map[string]any{
				"path": worst.Path, "response_seconds": round3(worst.Seconds), "timed_out": worst.TimedOut,
				limitName: limit.Seconds(),
			}
		}
		if opts.ClientTimeout > 0 && (worst.TimedOut || took >= opts.ClientTimeout) {
			add(Finding{
				Code: CodeSlowerThanClientTimeout, Severity: SeverityWarning,
				Message:  fmt.Sprintf("GET %s took %s, not less than the client timeout (%v): clients give up first, and the load balancer logs 460", worst.Path, describeTook(worst), opts.ClientTimeout),
				Evidence: ev("client_timeout_seconds", opts.ClientTimeout),
				Fix: fmt.Sprintf("make %s answer sooner, or start the response early and stream the rest; otherwise raise the client timeout above %v",
					worst.Path, (took + took/4 + time.Second).Round(time.Second)),
			})
		}
		if worst.TimedOut || took >= idle {
			add(Finding{
				Code: CodeSlowerThanIdleTimeout, Severity: SeverityWarning,
				Message:  fmt.Sprintf("GET %s took %s, not less than the load balancer's idle timeout (%v): the load balancer gives up on the target and answers 504", worst.Path, describeTook(worst), idle),
				Evidence: ev("idle_timeout_seconds", idle),
				Fix: fmt.Sprintf("raise idle_timeout.timeout_seconds above %v (and the client timeout above that), or have the target send a byte at least every %v: any byte resets the idle timeout",
					(took + took/4 + time.Second).Round(time.Second), max(time.Second, idle/2)),
			})
		}
	}

	if pr.KeepAliveError != "" {
		add(Finding{
			Code: CodeKeepAliveProbeFailed, Severity: SeverityInfo,
			Message:  "the keep-alive probes could not run: " + pr.KeepAliveError,
			Evidence: map[string]any{"error": pr.KeepAliveError},
			Fix:      "make the health check path answer promptly, or give a path that does with --path",
		})
		return fs
	}
	if !pr.KeepAlive {
		add(Finding{
			Code: CodeNoKeepAlive, Severity: SeverityInfo,
			Message:  "the target closes the connection after every response: each request pays for a new TCP connection (and the load balancer keeps none open)",
			Evidence: map[string]any{"keep_alive": false},
			Fix:      "enable HTTP keep-alive on the target (nginx: keepalive_timeout 75s; Apache: KeepAlive On; gunicorn: a worker class that supports keep-alive, such as gthread, with --keep-alive), with a timeout above the load balancer's idle timeout",
		})
		return fs
	}
	if !pr.HonoursConnectionClose {
		add(Finding{
			Code: CodeIgnoresConnectionClose, Severity: SeverityInfo,
			Message:  "the target kept the connection open after answering a request with Connection: close",
			Evidence: map[string]any{"honours_connection_close": false},
			Fix:      "the target should close the connection after a response to a request with Connection: close (RFC 9112 §9.6)",
		})
	}

	ka, kaKnown := p.targetKeepAlive()
	if kaKnown && config.CheckTargetKeepAlive(idle, ka) != nil {
		evict, fromFirst := p.albatrossEviction(ka)
		severity := SeverityWarning
		protection := fmt.Sprintf("Albatross evicts idle connections to it after %v once it has seen one close (GETs meeting the first close are retried; POSTs ride only connections idle less than %v until then)",
			evict.Round(10*time.Millisecond), min(ka/2, time.Second).Round(10*time.Millisecond))
		if fromFirst {
			protection = fmt.Sprintf("Albatross is protected from the first request: it evicts idle connections to it after %v", evict.Round(10*time.Millisecond))
			if p.albatros {
				severity = SeverityInfo
			}
		}
		header := any(nil)
		if pr.KeepAliveHeaderSeconds != nil {
			header = *pr.KeepAliveHeaderSeconds
		}
		want := int(math.Ceil((idle + headroom).Seconds()))
		var lbFix []string
		if s := int((ka - time.Second) / time.Second); s >= 1 {
			lbFix = append(lbFix, fmt.Sprintf("lower idle_timeout.timeout_seconds to %d", s))
			if p.albatros {
				lbFix = append(lbFix, fmt.Sprintf("in Albatross set target_keep_alive.idle_timeout_seconds: %d, which protects from the first request", s))
			}
		}
		lbFix = append(lbFix, "Albatross learns the target's timeout without configuration")
		add(Finding{
			Code: CodeKeepAliveShorterThanIdle, Severity: severity,
			Message: fmt.Sprintf("the target closes idle connections after %v, before the load balancer's idle timeout (%v). AWS ALB keeps reusing such connections and answers 502 when a request meets the close: intermittent 502s on healthy targets. %s.",
				ka.Round(100*time.Millisecond), idle, protection),
			Evidence: map[string]any{
				"target_keepalive_seconds":               round3(ka.Seconds()),
				"keep_alive_header_seconds":              header,
				"idle_timeout_seconds":                   idle.Seconds(),
				"albatross_eviction_seconds":             round3(evict.Seconds()),
				"albatross_protected_from_first_request": fromFirst,
			},
			Fix: fmt.Sprintf("raise the target's keep-alive timeout above the idle timeout, to %ds: nginx `keepalive_timeout %ds;` · Node.js `server.keepAliveTimeout = %d; server.headersTimeout = %d;` · gunicorn `--keep-alive %d` · Apache `KeepAliveTimeout %d` · Go `http.Server{IdleTimeout: %d * time.Second}`. On the load balancer's side: %s",
				want, want, want*1000, (want+1)*1000, want, want, want, strings.Join(lbFix, "; or ")),
		})
	}

	if kaKnown && pr.HeadersTimeoutSeconds != nil {
		hd := seconds(*pr.HeadersTimeoutSeconds)
		if err := config.CheckTargetHeadersTimeout(ka, hd); err != nil {
			// When the idle close came with the headers timeout, that timeout
			// is what closes idle connections (older Node.js counts it from the
			// previous request): the keep-alive timeout set is not the one in
			// force. Otherwise the server may start its headers timer only at a
			// request's first byte (Go does), and the order is only advice.
			severity, effect := SeverityInfo, "a server that counts its headers timeout from the end of the previous request closes kept-alive connections early"
			if ka-hd < 500*time.Millisecond {
				severity, effect = SeverityWarning, "the idle close came with the headers timeout: it is the headers timeout, not the keep-alive timeout, that closes idle connections"
			}
			add(Finding{
				Code: CodeHeadersTimeoutNotAboveKA, Severity: severity,
				Message: fmt.Sprintf("the target gives up on a request head after %v, not longer than it keeps idle connections (%v): %s",
					hd.Round(100*time.Millisecond), ka.Round(100*time.Millisecond), effect),
				Evidence: map[string]any{
					"headers_timeout_seconds":  round3(hd.Seconds()),
					"target_keepalive_seconds": round3(ka.Seconds()),
				},
				Fix: "make the request headers timeout longer than the keep-alive timeout: Node.js `server.headersTimeout = server.keepAliveTimeout + 1000`; nginx `client_header_timeout` above `keepalive_timeout`",
			})
		}
	}
	return fs
}

func describeTook(r Response) string {
	if r.TimedOut {
		return fmt.Sprintf("longer than %.1fs (no response)", r.Seconds)
	}
	return fmt.Sprintf("%.3fs", r.Seconds)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
