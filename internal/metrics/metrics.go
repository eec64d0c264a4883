// Package metrics counts what the load balancer does in the terms of ALB's
// CloudWatch metrics (RequestCount, HTTPCode_ELB_502_Count, TargetResponseTime,
// ActiveConnectionCount, ...) and exposes the counts as Prometheus metrics.
//
// Every request metric is derived from the request's one record, the
// accesslog.Entry, when the request ends (LoadBalancer.Observe), so the access
// log and the metrics cannot disagree. The request path pays for this with a
// few atomic additions: the counters of each load balancer, target group and
// target are resolved when a configuration is compiled (Registry.Bind), never by
// label lookups per request; those every request adds to are sharded by client
// connection, so that cores serving requests at once do not contend for their
// cache lines; and Observe neither allocates nor locks (it takes a
// per-load-balancer lock only to remember a recent ELB error for the dashboard).
// Label values and Prometheus series are built only when /metrics is scraped.
//
// Counters live in the Registry, keyed by load balancer, target group and
// target, so a reload that keeps a resource keeps its counts; Publish forgets the
// resources a configuration no longer has.
package metrics

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Pool is what the metrics read of a target's upstream connection pool: how many
// connections to the target are open. *upstream.Pool implements it.
type Pool interface {
	Open() int64
}

// GroupSpec describes one target group that a load balancer forwards to, for
// Bind.
type GroupSpec struct {
	// ID is the CloudWatch TargetGroup dimension, "targetgroup/NAME/ID".
	ID string
	// ARN is the target group's ARN, as the access log entry carries it.
	ARN string
	// Targets are the group's registered targets.
	Targets []TargetSpec
	// HealthChecked is whether the targets' health is checked (each target's
	// Health is then set): HealthyHostCount and UnHealthyHostCount are reported.
	HealthChecked bool
}

// TargetSpec describes one target of a group, for Bind.
type TargetSpec struct {
	Addr netip.AddrPort
	// Pool reports the target's open connections; nil when there is none.
	Pool Pool
	// Health reports the target's health state as ALB names it ("healthy",
	// "unhealthy", "initial", "draining", "unused", "unavailable"); nil when the
	// node runs no health checks. It is read when metrics are collected.
	Health func() string
	// Anomaly reports the anomaly detector's verdict on the target: whether
	// its error rate is anomalous next to its group's, and whether it gets less
	// traffic for it; nil when the group has no detector. It is read when
	// metrics are collected.
	Anomaly func() (anomalous, mitigated bool)
}

// Registry holds the node's counters. Create it with NewRegistry; it is safe for
// concurrent use. Its lock is taken when a configuration is bound or published
// and when metrics are read, never on the request path.
type Registry struct {
	mu      sync.Mutex
	lbs     map[string]*lbCounters
	groups  map[groupKey]*groupCounters
	targets map[targetKey]*targetCounters

	// current is the bindings of the configuration in force, read by Collect
	// and by the dashboard.
	current atomic.Pointer[[]*LoadBalancer]
	// storeUp is albatross_store_up: 1 or 0.
	storeUp atomic.Int32
	// logDrops is albatross_log_lines_dropped_total by log; under mu.
	logDrops map[string]uint64
}

// LogLinesDropped counts n lines of a log ("access", "connection",
// "health_check") that were dropped before they reached their store:
// albatross_log_lines_dropped_total{log=...}.
func (r *Registry) LogLinesDropped(log string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logDrops == nil {
		r.logDrops = map[string]uint64{}
	}
	r.logDrops[log] += uint64(n)
}

// SetStoreUp sets albatross_store_up: whether the node reaches its state
// store.
func (r *Registry) SetStoreUp(up bool) {
	if up {
		r.storeUp.Store(1)
	} else {
		r.storeUp.Store(0)
	}
}

type groupKey struct{ lb, group string }

type targetKey struct {
	lb, group string
	addr      netip.AddrPort
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{
		lbs:     make(map[string]*lbCounters),
		groups:  make(map[groupKey]*groupCounters),
		targets: make(map[targetKey]*targetCounters),
	}
	r.current.Store(new([]*LoadBalancer))
	r.storeUp.Store(1)
	return r
}

// LoadBalancer is one load balancer's counters as one configuration sees them:
// its own counters and those of the target groups and targets it forwards to,
// resolved once when the configuration is compiled. It is immutable; the
// counters it points to are shared with the bindings of later configurations
// that keep the same resources. A nil *LoadBalancer counts nothing.
type LoadBalancer struct {
	// ID is the CloudWatch LoadBalancer dimension, "app/NAME/ID".
	ID     string
	Groups []*Group
	// TLSErrors counts the load balancer's failed client TLS handshakes
	// (ClientTLSNegotiationErrorCount); kept by the data plane, nil when the
	// load balancer has no HTTPS listener counter.
	TLSErrors *atomic.Uint64

	c *lbCounters
}

// Group is one target group's counters within a load balancer's binding.
type Group struct {
	// ID is the CloudWatch TargetGroup dimension, "targetgroup/NAME/ID".
	ID      string
	ARN     string
	Targets []*Target

	c             *groupCounters
	byAddr        map[netip.AddrPort]*Target
	healthChecked bool
}

// Target is one target's counters within a group's binding.
type Target struct {
	Addr netip.AddrPort
	// label is Addr as text, the Prometheus label value.
	label   string
	pool    Pool
	health  func() string
	anomaly func() (anomalous, mitigated bool)
	c       *targetCounters
}

// linearLookup is the group size up to which a target is found by scanning
// rather than through a map; a scan of a few addresses is faster than hashing.
const linearLookup = 8

// Bind returns the counters of load balancer lbID (the "app/NAME/ID" resource id)
// and the groups it forwards to, creating the ones the registry does not have.
// The snapshot compiler calls it; the result is published with Publish once the
// configuration is committed.
func (r *Registry) Bind(lbID string, groups []GroupSpec) *LoadBalancer {
	r.mu.Lock()
	defer r.mu.Unlock()
	lc := r.lbs[lbID]
	if lc == nil {
		lc = newLBCounters()
		r.lbs[lbID] = lc
	}
	b := &LoadBalancer{ID: lbID, c: lc}
	for _, gs := range groups {
		gk := groupKey{lbID, gs.ID}
		gc := r.groups[gk]
		if gc == nil {
			gc = new(groupCounters)
			r.groups[gk] = gc
		}
		g := &Group{ID: gs.ID, ARN: gs.ARN, c: gc, healthChecked: gs.HealthChecked}
		for _, ts := range gs.Targets {
			tk := targetKey{lbID, gs.ID, ts.Addr}
			tc := r.targets[tk]
			if tc == nil {
				tc = new(targetCounters)
				r.targets[tk] = tc
			}
			g.Targets = append(g.Targets, &Target{Addr: ts.Addr, label: ts.Addr.String(), pool: ts.Pool, health: ts.Health, anomaly: ts.Anomaly, c: tc})
		}
		if len(g.Targets) > linearLookup {
			g.byAddr = make(map[netip.AddrPort]*Target, len(g.Targets))
			for _, t := range g.Targets {
				g.byAddr[t.Addr] = t
			}
		}
		b.Groups = append(b.Groups, g)
	}
	return b
}

// Publish makes lbs the bindings of the configuration in force, which /metrics
// and the dashboard report, and forgets the counters of every load balancer,
// target group and target that none of them has. Requests still in flight on an
// older configuration may count into forgotten counters; nothing reads those.
func (r *Registry) Publish(lbs []*LoadBalancer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keepLB := make(map[string]bool)
	keepGroup := make(map[groupKey]bool)
	keepTarget := make(map[targetKey]bool)
	for _, lb := range lbs {
		keepLB[lb.ID] = true
		for _, g := range lb.Groups {
			keepGroup[groupKey{lb.ID, g.ID}] = true
			for _, t := range g.Targets {
				keepTarget[targetKey{lb.ID, g.ID, t.Addr}] = true
			}
		}
	}
	for k := range r.lbs {
		if !keepLB[k] {
			delete(r.lbs, k)
		}
	}
	for k := range r.groups {
		if !keepGroup[k] {
			delete(r.groups, k)
		}
	}
	for k := range r.targets {
		if !keepTarget[k] {
			delete(r.targets, k)
		}
	}
	cp := append([]*LoadBalancer(nil), lbs...)
	r.current.Store(&cp)
}

// Current returns the bindings of the configuration in force.
func (r *Registry) Current() []*LoadBalancer { return *r.current.Load() }

// group returns the group whose ARN is arn. The entry's ARN is the snapshot's own
// string, so the comparison usually stops at the pointer.
func (lb *LoadBalancer) group(arn string) *Group {
	for _, g := range lb.Groups {
		if g.ARN == arn {
			return g
		}
	}
	return nil
}

// target returns the group's target at addr.
func (g *Group) target(addr netip.AddrPort) *Target {
	if g.byAddr != nil {
		return g.byAddr[addr]
	}
	for _, t := range g.Targets {
		if t.Addr == addr {
			return t
		}
	}
	return nil
}
