package health

import (
	"cmp"
	"context"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// Options configures a Registry.
type Options struct {
	// Logger receives health transitions and lifecycle events.
	Logger *slog.Logger
	// Second is how long one second of configured time lasts: health check
	// intervals and timeouts and deregistration delays are multiples of it.
	// Default time.Second; tests shorten it.
	Second time.Duration
	// Disabled turns active health checks off: registered targets stay
	// initial, and so receive requests because their group fails open. The
	// lifecycle (draining, removal) still runs. For tests whose targets must
	// see only the requests the test sends.
	Disabled bool
	// CheckLog, if set, receives one health-check log entry per check, with
	// every field but ELB and NodeIP filled in, from the checking goroutine
	// (concurrently for different targets); lb names the load balancer that
	// uses the group. e is reused once CheckLog returns.
	CheckLog func(lb string, e *accesslog.HealthEntry)
}

// Registry holds the health of every registered target of every target group
// and runs their health checks. Like upstream.Pools it outlives configuration
// snapshots: Group and Group.Target hand the same objects to every snapshot
// that keeps a registration, and Apply, called when a snapshot takes effect,
// starts checking new targets and drains the ones that left.
type Registry struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	groups map[string]*Group
	closed bool
	// owners is the last Status.Owner handed out.
	owners uint64
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Second <= 0 {
		opts.Second = time.Second
	}
	r := &Registry{opts: opts, groups: make(map[string]*Group)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Group is one target group's registrations.
type Group struct {
	reg  *Registry
	name string
	// version moves on whenever a target of the group changes state.
	version atomic.Uint64
	// settings is the health check in force, read by the probers.
	settings atomic.Pointer[settings]

	// Under reg.mu.
	lb     string
	inUse  bool
	listed bool // part of the configuration in force
	delay  time.Duration
	// drainUntil is GroupSpec.DrainUntil of the configuration in force.
	drainUntil map[netip.AddrPort]time.Time
	targets    map[netip.AddrPort]*Status // registered and draining
}

// Version changes whenever a target of the group changes state: a routing
// decision computed from the targets' states at version v holds while Version
// returns v. A nil group (a snapshot compiled by hand) stays at version 0.
func (g *Group) Version() uint64 {
	if g == nil {
		return 0
	}
	return g.version.Load()
}

// Name is the target group's name.
func (g *Group) Name() string { return g.name }

// Group returns the group of target group name, creating it if needed.
func (r *Registry) Group(name string) *Group {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.group(name)
}

func (r *Registry) group(name string) *Group {
	g := r.groups[name]
	if g == nil {
		g = &Group{reg: r, name: name, targets: make(map[netip.AddrPort]*Status)}
		r.groups[name] = g
	}
	return g
}

// Target returns the status of addr in the group: the one already registered
// (or draining), or a new initial one that takes effect when a configuration
// naming it is applied.
func (g *Group) Target(addr netip.AddrPort) *Status {
	g.reg.mu.Lock()
	defer g.reg.mu.Unlock()
	if st := g.targets[addr]; st != nil {
		return st
	}
	return newStatus(g, addr, Registered())
}

// GroupSpec is one target group of a configuration as the registry needs it.
type GroupSpec struct {
	Name string
	// LoadBalancer is the load balancer whose listeners use the group.
	LoadBalancer string
	// InUse is whether a listener or rule forwards to the group; targets of an
	// unused group are reported unused and not checked, as ALB does.
	InUse       bool
	HealthCheck config.HealthCheck
	// ProtocolVersion is the group's: HTTP2 and GRPC groups are checked over
	// HTTP/2 (GRPC ones with a gRPC call judged by HealthCheck.GrpcCode).
	ProtocolVersion string
	// DeregistrationDelay is deregistration_delay.timeout_seconds; like the
	// health check's seconds, it lasts as many Options.Second.
	DeregistrationDelay time.Duration
	// DrainUntil is when the deregistration delay of each deregistered
	// target ends, as the change that deregistered it recorded (wall-clock
	// time). A node that applies a deregistration made elsewhere, later,
	// drains the target until then, not for a whole delay from now; a target
	// not in it drains for the whole delay.
	DrainUntil map[netip.AddrPort]time.Time
	// Targets are the registered targets, from Group.Target.
	Targets []*Status
}

// scale converts a configured duration (whole seconds) to Options.Second's.
func (r *Registry) scale(d time.Duration) time.Duration {
	return d / time.Second * r.opts.Second
}

// scaleReal converts a wall-clock duration to Options.Second's.
func (r *Registry) scaleReal(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(r.opts.Second) / float64(time.Second))
}

// settings is a health check ready for the probers.
type settings struct {
	lb         string // the load balancer using the group, for the log
	thresholds Thresholds
	interval   time.Duration
	timeout    time.Duration
	https      bool
	port       uint16 // 0: the traffic port
	path       string
	matcher    config.HTTPCodes
	// h2 checks over HTTP/2 (HTTP2 and GRPC groups); grpc makes the check a
	// gRPC call whose grpc-status matcher judges.
	h2, grpc bool
}

func (r *Registry) settingsOf(h config.HealthCheck, protocolVersion string) *settings {
	s := &settings{
		thresholds: Thresholds{Healthy: h.HealthyThresholdCount, Unhealthy: h.UnhealthyThresholdCount},
		interval:   r.scale(time.Duration(h.IntervalSeconds) * time.Second),
		timeout:    r.scale(time.Duration(h.TimeoutSeconds) * time.Second),
		https:      h.Protocol == "HTTPS",
		path:       h.Path,
	}
	if h.Port != config.HealthCheckTrafficPort {
		var p int
		for _, c := range h.Port {
			p = p*10 + int(c-'0')
		}
		s.port = uint16(p)
	}
	// The configuration was validated; an unparsable matcher matches nothing
	// and shows as failing checks rather than as a crash.
	switch protocolVersion {
	case config.ProtocolVersionGRPC:
		s.h2, s.grpc = true, true
		s.matcher, _ = config.ParseGRPCCodes(cmp.Or(h.GrpcCode, config.DefaultGRPCCode))
	case config.ProtocolVersionHTTP2:
		s.h2 = true
		s.matcher, _ = config.ParseHTTPCodes(h.Matcher)
	default:
		s.matcher, _ = config.ParseHTTPCodes(h.Matcher)
	}
	if s.interval <= 0 {
		s.interval = time.Duration(config.DefaultHealthCheckIntervalSeconds) * r.opts.Second
	}
	if s.timeout <= 0 || s.timeout >= s.interval {
		s.timeout = s.interval / 2
	}
	return s
}

// Apply makes specs the registered targets: new targets start initial and are
// checked, targets that are no longer listed drain for their group's
// deregistration delay and are then removed, targets listed again after
// draining are registered anew. Statuses not in specs and not draining are
// untouched, as are the connections and in-flight requests of every target
// that stays.
func (r *Registry) Apply(specs []GroupSpec) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	for _, g := range r.groups {
		g.listed = false
	}
	// How many targets start being checked now, to spread their first
	// checks (firstCheckDelay).
	batch := 0
	for _, sp := range specs {
		for _, st := range sp.Targets {
			if sp.InUse && st.prober == nil {
				batch++
			}
		}
	}
	for _, sp := range specs {
		g := r.group(sp.Name)
		g.listed = true
		g.lb, g.inUse, g.delay, g.drainUntil = sp.LoadBalancer, sp.InUse, r.scale(sp.DeregistrationDelay), sp.DrainUntil
		set := r.settingsOf(sp.HealthCheck, sp.ProtocolVersion)
		set.lb = sp.LoadBalancer
		g.settings.Store(set)
		keep := make(map[*Status]bool, len(sp.Targets))
		for _, st := range sp.Targets {
			keep[st] = true
			r.register(g, st, now, batch)
		}
		for _, st := range g.targets {
			if !keep[st] {
				r.deregister(g, st, now)
			}
		}
	}
	for _, g := range r.groups {
		if g.listed {
			continue
		}
		for _, st := range g.targets {
			r.deregister(g, st, now)
		}
		if len(g.targets) == 0 {
			delete(r.groups, g.name)
		}
	}
}

// register makes st a registered target of g, in use or not as g is; batch is
// as startProber's.
func (r *Registry) register(g *Group, st *Status, now time.Time, batch int) {
	if st.group != g {
		panic("health: status registered in another group")
	}
	if cur := g.targets[st.addr]; cur != nil && cur != st {
		// Two compiles named the target before either was applied, and
		// the later one is in force: its status is the one requests see,
		// so it replaces the other. (The node compiles and applies under
		// one lock, so this does not happen there.)
		r.stopProber(cur)
		if cur.drain != nil {
			cur.drain.Stop()
			cur.drain = nil
		}
		delete(g.targets, st.addr)
	}
	isNew := g.targets[st.addr] == nil
	g.targets[st.addr] = st
	if st.drain != nil {
		st.drain.Stop()
		st.drain = nil
	}
	old, rec := st.update(func(rec Record) Record {
		switch {
		case !g.inUse:
			return NotInUse()
		case rec.State == StateDraining || rec.State == StateUnused:
			return Registered()
		}
		return rec
	}, now)
	if old.State != rec.State || old.Reason != rec.Reason || isNew {
		r.opts.Logger.Info("target registered", "load_balancer", g.lb, "target_group", g.name,
			"target", st.addr.String(), "state", rec.State.String(), "reason", string(rec.Reason))
	}
	if g.inUse && !r.opts.Disabled {
		if st.prober == nil {
			st.prober = r.startProber(g, st, batch)
		}
	} else {
		r.stopProber(st)
	}
}

// deregister starts draining st, unless it already drains.
func (r *Registry) deregister(g *Group, st *Status, now time.Time) {
	if st.State() == StateDraining {
		return
	}
	r.stopProber(st)
	st.update(func(Record) Record { return Deregistered() }, now)
	delay := g.delay
	if until, ok := g.drainUntil[st.addr]; ok {
		delay = max(0, min(delay, r.scaleReal(until.Sub(now))))
	}
	r.opts.Logger.Info("target draining", "load_balancer", g.lb, "target_group", g.name,
		"target", st.addr.String(), "deregistration_delay", delay, "in_flight", st.InFlight())
	st.drain = time.AfterFunc(delay, func() { r.remove(g, st) })
}

// remove ends st's deregistration: requests still in flight are cut, and the
// target leaves the registry.
func (r *Registry) remove(g *Group, st *Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.drain == nil || g.targets[st.addr] != st || st.State() != StateDraining {
		return // registered again meanwhile
	}
	st.drain = nil
	delete(g.targets, st.addr)
	if len(g.targets) == 0 && r.groups[g.name] == g && !g.listed {
		delete(r.groups, g.name)
	}
	st.update(func(Record) Record { return Removed() }, time.Now())
	cut := st.cut()
	r.opts.Logger.Info("target deregistered", "load_balancer", g.lb, "target_group", g.name,
		"target", st.addr.String(), "requests_cut", cut)
}

// Close stops every health check and deregistration timer and waits for the
// probers to return.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	for _, g := range r.groups {
		for _, st := range g.targets {
			if st.drain != nil {
				st.drain.Stop()
				st.drain = nil
			}
		}
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// TargetHealth is the health of one registered target, as the admin server
// and DescribeTargetHealth report it.
type TargetHealth struct {
	LoadBalancer string
	TargetGroup  string
	Target       netip.AddrPort
	State        State
	// Reason is empty when healthy.
	Reason Reason
	// Description is AWS's description of Reason, followed by the count of
	// failed target connections when there were any.
	Description string
	// HealthCheckPort is the port health checks go to.
	HealthCheckPort uint16
	// ConnectionErrors counts failed connections to the target since it was
	// registered (ALB's TargetConnectionErrorCount).
	ConnectionErrors uint64
	// InFlight is the number of requests in flight on the target.
	InFlight int64
	// HealthySince is when the target became healthy (zero if not healthy).
	HealthySince time.Time
	// Anomalous and Mitigated are the anomaly detector's verdict (groups
	// with load_balancing.algorithm.anomaly_mitigation on).
	Anomalous, Mitigated bool
}

func (r *Registry) view(g *Group, st *Status) TargetHealth {
	rec := st.Record()
	errs := st.ConnectionErrors()
	th := TargetHealth{
		LoadBalancer:     g.lb,
		TargetGroup:      g.name,
		Target:           st.addr,
		State:            rec.State,
		Reason:           rec.Reason,
		Description:      describe(rec, errs),
		HealthCheckPort:  st.addr.Port(),
		ConnectionErrors: errs,
		InFlight:         st.InFlight(),
		HealthySince:     st.HealthySince(),
	}
	th.Anomalous, th.Mitigated = st.Anomaly()
	if s := g.settings.Load(); s != nil && s.port != 0 {
		th.HealthCheckPort = s.port
	}
	return th
}

// TargetHealth returns the health of every registered or draining target,
// ordered by load balancer, target group and target.
func (r *Registry) TargetHealth() []TargetHealth {
	r.mu.Lock()
	out := make([]TargetHealth, 0, 16)
	for _, g := range r.groups {
		for _, st := range g.targets {
			out = append(out, r.view(g, st))
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b TargetHealth) int {
		return cmp.Or(cmp.Compare(a.LoadBalancer, b.LoadBalancer), cmp.Compare(a.TargetGroup, b.TargetGroup),
			a.Target.Compare(b.Target))
	})
	return out
}

// Lookup returns the health of target addr in target group tg. A target that
// is not registered (or whose group does not exist) is reported unused with
// Target.NotRegistered, as DescribeTargetHealth reports a target named in its
// filter; ok tells the two apart.
func (r *Registry) Lookup(tg string, addr netip.AddrPort) (th TargetHealth, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[tg]; g != nil {
		if st := g.targets[addr]; st != nil {
			return r.view(g, st), true
		}
	}
	rec := Removed()
	return TargetHealth{TargetGroup: tg, Target: addr, State: rec.State, Reason: rec.Reason,
		Description: rec.Description(), HealthCheckPort: addr.Port()}, false
}

// HostCounts are a target group's targets by state, the basis of ALB's
// HealthyHostCount and UnHealthyHostCount metrics.
type HostCounts struct {
	Healthy, Unhealthy, Initial, Draining, Unused int
}

// Counts returns the number of targets of target group tg in each state. As on
// ALB, draining targets count neither as healthy nor as unhealthy.
func (r *Registry) Counts(tg string) HostCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c HostCounts
	g := r.groups[tg]
	if g == nil {
		return c
	}
	for _, st := range g.targets {
		switch st.State() {
		case StateHealthy:
			c.Healthy++
		case StateUnhealthy:
			c.Unhealthy++
		case StateInitial:
			c.Initial++
		case StateDraining:
			c.Draining++
		default:
			c.Unused++
		}
	}
	return c
}

// phase spreads the checks of a group's targets over the interval: each target
// starts at a fixed offset derived from its identity, so 1,000 targets do not
// all connect at once and a target keeps its slot across reloads.
func phase(group string, addr netip.AddrPort, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(group))
	b, _ := addr.MarshalBinary()
	h.Write(b)
	return time.Duration(h.Sum64() % uint64(interval))
}
