package balance

import (
	"net/netip"
	"sync"
	"time"
)

// Registry keeps the Runtime of every target of every target group across
// configuration snapshots, as upstream.Pools keeps connection pools. It is
// used when a snapshot is compiled, never on the request path.
type Registry struct {
	mu     sync.Mutex
	groups map[string]*groupRuntimes
}

type groupRuntimes struct {
	slowStart bool
	targets   map[netip.AddrPort]*Runtime
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{groups: make(map[string]*groupRuntimes)}
}

// Runtimes returns the runtimes of the targets addrs of target group group, in
// order, creating those that are new. A target that appears in a group that
// already existed enters slow start at now; the targets of a group seen for
// the first time do not (they all start together, and slow start holds a
// target back only while some other target is past it). When slow start is
// switched on for a group, its current targets do not enter it, as on ALB.
func (r *Registry) Runtimes(group string, slowStart time.Duration, addrs []netip.AddrPort, now time.Time) []*Runtime {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[group]
	known := g != nil
	if !known {
		g = &groupRuntimes{targets: make(map[netip.AddrPort]*Runtime)}
		r.groups[group] = g
	}
	on := slowStart > 0
	if on && !g.slowStart {
		for _, rt := range g.targets {
			rt.LeaveSlowStart()
		}
	}
	g.slowStart = on
	out := make([]*Runtime, len(addrs))
	for i, a := range addrs {
		rt := g.targets[a]
		if rt == nil {
			rt = &Runtime{}
			if known {
				rt.EnterSlowStart(now)
			}
			g.targets[a] = rt
		}
		out[i] = rt
	}
	return out
}

// Retain forgets the groups and targets not in keep (group name → target
// addresses), so that a target registered again later starts afresh.
func (r *Registry) Retain(keep map[string][]netip.AddrPort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, g := range r.groups {
		addrs, ok := keep[name]
		if !ok {
			delete(r.groups, name)
			continue
		}
		live := make(map[netip.AddrPort]bool, len(addrs))
		for _, a := range addrs {
			live[a] = true
		}
		for a := range g.targets {
			if !live[a] {
				delete(g.targets, a)
			}
		}
	}
}
