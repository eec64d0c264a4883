package upstream

import (
	"context"
	"sync"
	"time"
)

// Pools keeps one Pool per target address across configuration changes, so that a
// reload that keeps a target keeps its warm connections. It is touched when a
// snapshot is compiled, never on the request path.
type Pools struct {
	opts Options

	mu    sync.Mutex
	pools map[string]*Pool
}

// NewPools returns an empty set of pools whose pools use opts.
func NewPools(opts Options) *Pools {
	return &Pools{opts: opts, pools: make(map[string]*Pool)}
}

// Pool returns the pool for addr ("ip:port"), creating it if needed.
func (ps *Pools) Pool(addr string) *Pool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.pools[addr]
	if p == nil {
		p = NewPool(addr, ps.opts)
		ps.pools[addr] = p
	}
	return p
}

// Retain closes and forgets every pool whose address is not in keep.
func (ps *Pools) Retain(keep map[string]bool) {
	ps.mu.Lock()
	var gone []*Pool
	for addr, p := range ps.pools {
		if !keep[addr] {
			gone = append(gone, p)
			delete(ps.pools, addr)
		}
	}
	ps.mu.Unlock()
	for _, p := range gone {
		p.Close()
	}
}

// Run sweeps every pool (see Pool.EvictIdle) as often as its limits need, and at
// least every maxInterval, until ctx is done; then it closes every pool. A pool
// whose target closes idle connections after 300 ms is swept every few tens of
// milliseconds, one with nothing learned once per maxInterval.
func (ps *Pools) Run(ctx context.Context, maxInterval time.Duration) {
	t := time.NewTimer(minSweep)
	defer t.Stop()
	var all []*Pool
	for {
		select {
		case <-ctx.Done():
			ps.Retain(nil)
			return
		case <-t.C:
		}
		now := time.Now()
		all = all[:0]
		ps.mu.Lock()
		for _, p := range ps.pools {
			all = append(all, p)
		}
		ps.mu.Unlock()
		wait := maxInterval
		for _, p := range all {
			if !now.Before(p.nextSweep) {
				p.nextSweep = now.Add(min(p.sweep(now), maxInterval))
			}
			wait = min(wait, p.nextSweep.Sub(now))
		}
		clear(all)
		t.Reset(max(wait, minSweep))
	}
}
