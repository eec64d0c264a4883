package control

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/state"
)

// Applier is the running data plane: *node.Node. Apply makes a configuration
// current, all or nothing.
type Applier interface {
	Apply(cfg *config.Config) error
}

// Options configures a Controller.
type Options struct {
	// Store holds the records; IDs is the id registry the node compiles with.
	Store state.Store
	IDs   state.IDRegistry
	// Node is the data plane that every change is applied to.
	Node Applier
	// Region and AccountID go into ARNs (config.DefaultRegion and
	// config.DefaultAccountID when empty); the configuration file sets them.
	Region    string
	AccountID string
	// ListenAddress is the IP API-created listeners bind (default 0.0.0.0).
	ListenAddress string
	// CertificateDir holds the PEM files of the certificate ARNs that API
	// calls name (see CertificateFiles).
	CertificateDir string
	// BaseDir is the node's directory for the configuration file's relative
	// paths.
	BaseDir string
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Cache, with a shared store, keeps the state last applied on local
	// disk: when the store cannot be reached at start, the node serves the
	// cached state (see Stale) until it can. Nil: no cache.
	Cache *state.Cache
	// CachePrefix names the shared store's cluster in the cache (a cache of
	// another cluster is never served).
	CachePrefix string
	// FileOwner, in a cluster, is this node's name: the configuration file's
	// resources are recorded as its own (see ImportFile). Empty on a node on
	// its own.
	FileOwner string
}

// Stale describes a node serving its cached state because the store could
// not be reached when it started.
type Stale struct {
	// SavedAt is when the cached state was applied; Revision is its store
	// revision.
	SavedAt  time.Time
	Revision int64
	// Since is when the node started serving it.
	Since time.Time
}

// Controller owns the model: it loads it from the store, applies it to the node,
// and serialises every change.
type Controller struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex // serialises Update
	model *Model     // published; read without the lock via Model()
	cur   sync.RWMutex
	rev   int64
	seq   int64
	// kvs is what the store holds at rev, for the cache; guarded by mu.
	kvs map[string][]byte
	// stale is set while the node serves its cache (guarded by cur), and
	// pendingFile is the configuration file to import once the store is
	// back (guarded by mu).
	stale       *Stale
	pendingFile *config.Config
}

// ApplyError is returned by Update when the node refused the new configuration
// (for example a port it cannot bind); nothing was stored.
type ApplyError struct{ Err error }

func (e *ApplyError) Error() string { return e.Err.Error() }
func (e *ApplyError) Unwrap() error { return e.Err }

// StoreError is returned by Update when the change could not be made durable;
// the node was put back on the previous configuration and nothing changed.
type StoreError struct{ Err error }

func (e *StoreError) Error() string { return e.Err.Error() }
func (e *StoreError) Unwrap() error { return e.Err }

// New loads the model from the store. It does not apply it: call Start (or
// ImportFile) to bring the node up to date.
func New(ctx context.Context, opts Options) (*Controller, error) {
	if opts.Region == "" {
		opts.Region = config.DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = config.DefaultAccountID
	}
	if opts.ListenAddress == "" {
		opts.ListenAddress = config.DefaultListenerAddress
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Controller{opts: opts, log: opts.Logger}
	m, rev, seq, err := c.load(ctx)
	if err != nil && errors.Is(err, state.ErrUnavailable) && opts.Cache != nil {
		return c.fromCache(err)
	}
	if err != nil {
		return nil, err
	}
	c.model, c.rev, c.seq = m, rev, seq
	return c, nil
}

// fromCache starts the controller on the cached state after the store could
// not be reached (storeErr).
func (c *Controller) fromCache(storeErr error) (*Controller, error) {
	cached, err := c.opts.Cache.Load()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w; and there is no cached state in %s to serve until it is reachable", storeErr, c.opts.Cache.Path())
		}
		return nil, fmt.Errorf("%w; and the cached state cannot be read: %w", storeErr, err)
	}
	if cached.Prefix != c.opts.CachePrefix {
		return nil, fmt.Errorf("%w; and the cached state in %s is of another cluster (prefix %q, not %q)", storeErr, c.opts.Cache.Path(), cached.Prefix, c.opts.CachePrefix)
	}
	m, seq, err := c.decode(cached.KVs)
	if err != nil {
		return nil, fmt.Errorf("cached state %s: %w", c.opts.Cache.Path(), err)
	}
	c.model, c.rev, c.seq = m, cached.Revision, seq
	c.setKVs(cached.KVs)
	c.stale = &Stale{SavedAt: cached.SavedAt, Revision: cached.Revision, Since: c.opts.Now()}
	c.setIDsOffline(true)
	c.log.Warn("the state store is unreachable: serving the cached state, which may be stale, until it is back",
		"cache", c.opts.Cache.Path(), "saved_at", cached.SavedAt.UTC().Format(time.RFC3339), "revision", cached.Revision, "err", storeErr)
	return c, nil
}

// Stale reports whether the node serves its cached state (the store could not
// be reached when it started, and has not been since), and which.
func (c *Controller) Stale() (Stale, bool) {
	c.cur.RLock()
	defer c.cur.RUnlock()
	if c.stale == nil {
		return Stale{}, false
	}
	return *c.stale, true
}

// setIDsOffline tells an id registry that can answer from what it knows
// (state.FallbackIDs) whether to do so.
func (c *Controller) setIDsOffline(offline bool) {
	if f, ok := c.opts.IDs.(interface{ SetOffline(bool) }); ok {
		f.SetOffline(offline)
	}
}

// load reads every record from the store.
func (c *Controller) load(ctx context.Context) (*Model, int64, int64, error) {
	kvs, rev, err := c.opts.Store.Load(ctx, "")
	if err != nil {
		return nil, 0, 0, err
	}
	m, seq, err := c.decode(kvs)
	if err != nil {
		return nil, 0, 0, err
	}
	c.setKVs(kvs)
	return m, rev, seq, nil
}

// setKVs records the store's contents for the cache.
func (c *Controller) setKVs(kvs []state.KV) {
	if c.opts.Cache == nil {
		return
	}
	c.kvs = make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		c.kvs[kv.Key] = kv.Value
	}
}

// saveCache hands the store's contents at rev to the cache.
func (c *Controller) saveCache(rev int64) {
	if c.opts.Cache == nil {
		return
	}
	kvs := make([]state.KV, 0, len(c.kvs))
	for k, v := range c.kvs {
		kvs = append(kvs, state.KV{Key: k, Value: v})
	}
	slices.SortFunc(kvs, func(a, b state.KV) int { return strings.Compare(a.Key, b.Key) })
	c.opts.Cache.Save(&state.Cached{Prefix: c.opts.CachePrefix, Revision: rev, SavedAt: c.opts.Now(), KVs: kvs})
}

// decode turns store records into a model.
func (c *Controller) decode(kvs []state.KV) (*Model, int64, error) {
	m := c.emptyModel()
	var seq int64
	for _, kv := range kvs {
		var err error
		switch {
		case strings.HasPrefix(kv.Key, prefixLoadBalancer):
			var r LoadBalancer
			if err = json.Unmarshal(kv.Value, &r); err == nil {
				m.LoadBalancers[r.ID] = &r
				seq = max(seq, r.Seq)
			}
		case strings.HasPrefix(kv.Key, prefixTargetGroup):
			var r TargetGroup
			if err = json.Unmarshal(kv.Value, &r); err == nil {
				m.TargetGroups[r.ID] = &r
				seq = max(seq, r.Seq)
			}
		case strings.HasPrefix(kv.Key, prefixListener):
			var r Listener
			if err = json.Unmarshal(kv.Value, &r); err == nil {
				m.Listeners[r.ID] = &r
				seq = max(seq, r.Seq)
			}
		case strings.HasPrefix(kv.Key, prefixTrustStore):
			var r TrustStore
			if err = json.Unmarshal(kv.Value, &r); err == nil {
				m.TrustStores[r.ID] = &r
				seq = max(seq, r.Seq)
			}
		}
		if err != nil {
			return nil, 0, fmt.Errorf("state record %s: %w", kv.Key, err)
		}
	}
	return m, seq, nil
}

func (c *Controller) emptyModel() *Model {
	return &Model{
		Region:         c.opts.Region,
		AccountID:      c.opts.AccountID,
		ListenAddress:  c.opts.ListenAddress,
		BindLocally:    c.opts.FileOwner != "",
		CertificateDir: c.opts.CertificateDir,
		BaseDir:        c.opts.BaseDir,
		LoadBalancers:  map[string]*LoadBalancer{},
		TargetGroups:   map[string]*TargetGroup{},
		Listeners:      map[string]*Listener{},
		TrustStores:    map[string]*TrustStore{},
	}
}

// Model returns the current model. It must not be modified.
func (c *Controller) Model() *Model {
	c.cur.RLock()
	defer c.cur.RUnlock()
	return c.model
}

// Now returns the controller's clock reading.
func (c *Controller) Now() time.Time { return c.opts.Now() }

// Start brings the node up: it applies the configuration file, if there is one
// (see ImportFile), and the stored resources, as one change that is applied even
// when the file changes nothing.
func (c *Controller) Start(ctx context.Context, file *config.Config) error {
	c.mu.Lock()
	err := c.bindIDs(c.Model())
	if err == nil && c.stale != nil {
		// Serving the cache: nothing can be stored, so the file waits for
		// the store (Run imports it then).
		c.pendingFile = file
		var cfg *config.Config
		if cfg, err = Compile(c.Model()); err == nil {
			err = c.opts.Node.Apply(cfg)
		}
		c.mu.Unlock()
		if err == nil && file != nil {
			c.log.Warn("the configuration file is applied once the state store is reachable")
		}
		return err
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.update(ctx, true, func(tx *Tx) error {
		if file == nil {
			return nil
		}
		return importFile(tx, file)
	})
}

// bindIDs makes the id registry agree with the records: the node's snapshot
// takes each resource's id from the registry, keyed by name (and port).
func (c *Controller) bindIDs(m *Model) error {
	want := map[string]string{}
	for _, lb := range m.LoadBalancers {
		want[snapshot.LoadBalancerKey(lb.Name)] = lb.ID
	}
	for _, tg := range m.TargetGroups {
		want[snapshot.TargetGroupKey(tg.Name)] = tg.ID
	}
	for _, l := range m.Listeners {
		if lb := m.LoadBalancers[l.LoadBalancerID]; lb != nil {
			want[snapshot.ListenerKey(lb.Name, l.Port)] = l.ID
		}
	}
	if f, ok := c.opts.IDs.(interface{ Learn(map[string]string) }); ok {
		f.Learn(want)
	}
	for k, id := range want {
		got, ok, err := c.opts.IDs.Lookup(k)
		if err != nil {
			return err
		}
		if ok && got == id {
			continue
		}
		if err := c.opts.IDs.Bind(k, id); err != nil {
			return err
		}
	}
	return nil
}

// Run follows the store's changes made by other writers (with a shared store,
// other nodes) and applies them, until ctx ends. Changes this controller made
// itself are already applied and are skipped.
func (c *Controller) Run(ctx context.Context) error {
	rev, events, err := c.watch(ctx)
	if err != nil {
		return err
	}
	// pending is the latest revision the store is known to have; the
	// controller is behind while it is above c.rev. At first that is a
	// change another writer made between New's load and the watch's start,
	// which is in no event. A node that served its cache reloads whatever
	// the revision (force), then imports its file. A reload that fails (the
	// store lost just as a change arrived) is tried again with backoff, even
	// if no later change comes: the watch has delivered that revision already.
	pending := rev
	_, force := c.Stale()
	var retry <-chan time.Time // set while a failed reload waits
	wait := reloadRetryMin
	for {
		var left *Stale // the cache just left
		var file *config.Config
		c.mu.Lock()
		if pending > c.rev || force {
			if err := c.reload(ctx); err != nil {
				if retry == nil && wait == reloadRetryMin {
					c.log.Error("applying a change from the store; retrying", "revision", pending, "err", err)
				}
				retry = time.After(wait)
				wait = min(2*wait, reloadRetryMax)
			} else {
				if wait != reloadRetryMin {
					c.log.Info("applied the store's changes after a failure", "revision", c.rev)
				}
				retry, wait, force = nil, reloadRetryMin, false
				left, file = c.leaveCache()
			}
		}
		c.mu.Unlock()
		if left != nil {
			c.log.Info("the state store is reachable: serving its state, no longer the cached one", "revision", c.Revision(), "served_cache_for", c.opts.Now().Sub(left.Since).Round(time.Second))
			if file != nil {
				if err := c.ImportFile(ctx, file); err != nil {
					c.log.Error("applying the configuration file after the state store came back", "err", err)
				}
			}
		}
		select {
		case ev, ok := <-events:
			if !ok {
				return ctx.Err()
			}
			pending = max(pending, ev.Revision)
		case <-retry:
			retry = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Backoff between attempts to apply the store's changes after a failure.
const (
	reloadRetryMin = 100 * time.Millisecond
	reloadRetryMax = 2 * time.Second
)

// leaveCache, after the store's state replaced the cached one (c.mu held),
// clears Stale and returns what it was, nil if the node served no cache, and
// the configuration file that waited for the store.
func (c *Controller) leaveCache() (*Stale, *config.Config) {
	c.cur.Lock()
	s := c.stale
	c.stale = nil
	c.cur.Unlock()
	if s == nil {
		return nil, nil
	}
	file := c.pendingFile
	c.pendingFile = nil
	return s, file
}

// watch starts the store's watch, trying again with backoff while the store
// cannot be reached, until ctx ends.
func (c *Controller) watch(ctx context.Context) (int64, <-chan state.Event, error) {
	wait := 100 * time.Millisecond
	for {
		rev, events, err := c.opts.Store.Watch(ctx)
		if err == nil || !errors.Is(err, state.ErrUnavailable) {
			return rev, events, err
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Revision returns the store revision of the state applied.
func (c *Controller) Revision() int64 {
	c.cur.RLock()
	defer c.cur.RUnlock()
	return c.rev
}

// reload re-reads the store and applies it; c.mu is held.
func (c *Controller) reload(ctx context.Context) error {
	m, rev, seq, err := c.load(ctx)
	if err != nil {
		return err
	}
	c.setIDsOffline(false)
	if err := c.bindIDs(m); err != nil {
		return err
	}
	cfg, err := Compile(m)
	if err != nil {
		return err
	}
	if err := c.opts.Node.Apply(cfg); err != nil {
		return err
	}
	c.publish(m, rev)
	c.saveCache(rev)
	c.seq = max(c.seq, seq)
	return nil
}

func (c *Controller) publish(m *Model, rev int64) {
	c.cur.Lock()
	c.model, c.rev = m, rev
	c.cur.Unlock()
}

// Tx is one change being built: a copy-on-write model and the records it
// touched. Records reached through Model() must not be modified; put a Clone.
type Tx struct {
	c     *Controller
	m     *Model
	dirty map[string]bool
	// release are id registry keys to forget once the change is stored.
	release []string
	// keepIDs keeps the ids of deleted resources: a resource the
	// configuration file removes and later adds back gets its old id (and
	// ARN) again, while one deleted through the API gets a new one, as on AWS.
	keepIDs bool
	// binds are id registry keys to (re)bind before the node compiles.
	binds map[string]string
}

// Model returns the model as changed so far.
func (tx *Tx) Model() *Model { return tx.m }

// Now is the controller's clock.
func (tx *Tx) Now() time.Time { return tx.c.opts.Now() }

// NextSeq returns the creation sequence number of a new resource.
func (tx *Tx) NextSeq() int64 {
	tx.c.seq++
	return tx.c.seq
}

// NewID returns the id of a new resource whose id registry key is key (see the
// snapshot package's key functions); the registry keeps ids stable across
// restarts, and a released key gets a fresh one.
func (tx *Tx) NewID(key string) (string, error) {
	ids, err := tx.c.opts.IDs.Assign([]string{key})
	if err != nil {
		return "", err
	}
	return ids[key], nil
}

// NewRuleID returns a fresh id for a rule. Rules are not compiled by name, so
// the id comes from a key no other resource uses; the registry makes it unique.
func (tx *Tx) NewRuleID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tx.NewID(fmt.Sprintf("rule/%x", b))
}

// PutLoadBalancer stores lb (new or changed).
func (tx *Tx) PutLoadBalancer(lb *LoadBalancer) {
	tx.m.LoadBalancers[lb.ID] = lb
	tx.dirty[prefixLoadBalancer+lb.ID] = true
}

// DeleteLoadBalancer removes a load balancer (not its listeners).
func (tx *Tx) DeleteLoadBalancer(id string) {
	if lb := tx.m.LoadBalancers[id]; lb != nil && !tx.keepIDs {
		tx.release = append(tx.release, snapshot.LoadBalancerKey(lb.Name))
	}
	delete(tx.m.LoadBalancers, id)
	tx.dirty[prefixLoadBalancer+id] = true
}

// PutTargetGroup stores tg (new or changed).
func (tx *Tx) PutTargetGroup(tg *TargetGroup) {
	tx.m.TargetGroups[tg.ID] = tg
	tx.dirty[prefixTargetGroup+tg.ID] = true
}

// DeleteTargetGroup removes a target group.
func (tx *Tx) DeleteTargetGroup(id string) {
	if tg := tx.m.TargetGroups[id]; tg != nil && !tx.keepIDs {
		tx.release = append(tx.release, snapshot.TargetGroupKey(tg.Name))
	}
	delete(tx.m.TargetGroups, id)
	tx.dirty[prefixTargetGroup+id] = true
}

// PutListener stores l (new or changed); a changed port keeps the listener's id.
func (tx *Tx) PutListener(l *Listener) {
	if lb := tx.m.LoadBalancers[l.LoadBalancerID]; lb != nil {
		tx.binds[snapshot.ListenerKey(lb.Name, l.Port)] = l.ID
	}
	tx.m.Listeners[l.ID] = l
	tx.dirty[prefixListener+l.ID] = true
}

// DeleteListener removes a listener.
func (tx *Tx) DeleteListener(id string) {
	if l := tx.m.Listeners[id]; l != nil {
		if lb := tx.m.LoadBalancers[l.LoadBalancerID]; lb != nil && !tx.keepIDs {
			tx.release = append(tx.release, snapshot.ListenerKey(lb.Name, l.Port))
		}
	}
	delete(tx.m.Listeners, id)
	tx.dirty[prefixListener+id] = true
}

// Update runs fn on a copy of the model; if fn succeeds and changed anything,
// the new model is checked, applied to the node and committed to the store,
// then published. An error from fn is returned as is and changes nothing.
func (c *Controller) Update(ctx context.Context, fn func(tx *Tx) error) error {
	return c.update(ctx, false, fn)
}

// update is Update; with force, the model is applied and stored even when fn
// changed nothing.
func (c *Controller) update(ctx context.Context, force bool, fn func(tx *Tx) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// With a shared store another node may commit between this node's read
	// and its commit: the commit then fails with ErrConflict, changing
	// nothing, and the change is made again on the state as it now is (fn
	// decides afresh, so a name taken meanwhile gets AWS's error).
	caughtUp := false
	for attempt := 1; ; attempt++ {
		err := c.updateOnce(ctx, force, fn)
		var se *StoreError
		if err != nil && !caughtUp && !errors.As(err, &se) && !errors.Is(err, state.ErrUnavailable) {
			// fn may have judged a model older than the store: a change
			// another node committed a moment ago that this node's watch
			// has not delivered yet (a rule created there, modified here).
			// If the store is ahead, decide again on its state, once. (Not
			// when the store could not be reached: asking it again would
			// only wait out another timeout.)
			caughtUp = true
			if ahead, rerr := c.storeAhead(ctx); rerr == nil && ahead {
				if rerr := c.reload(ctx); rerr != nil {
					return errors.Join(err, rerr)
				}
				continue
			}
			return err
		}
		if err == nil || !errors.Is(err, state.ErrConflict) || attempt == maxConflictRetries {
			return err
		}
		// Back off a little, at random, so that a node whose changes keep
		// losing to a busy one gets its turn.
		wait := mrand.N(min(conflictBackoff<<attempt, maxConflictBackoff))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		if rerr := c.reload(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
}

// storeAhead reports whether the store holds changes this node has not
// applied: its revision, read with a Load that matches no key, is past the
// one the model reflects. c.mu is held.
func (c *Controller) storeAhead(ctx context.Context) (bool, error) {
	_, rev, err := c.opts.Store.Load(ctx, noKeyPrefix)
	if err != nil {
		return false, err
	}
	return rev > c.Revision(), nil
}

// noKeyPrefix begins no key of the store (every key begins with a resource
// kind's prefix), so a Load of it reads only the revision.
const noKeyPrefix = "\x00revision-probe/"

// maxConflictRetries bounds how often a change is retried after losing a
// race with another node's; the waits between attempts grow from
// conflictBackoff to maxConflictBackoff.
const (
	maxConflictRetries = 20
	conflictBackoff    = 2 * time.Millisecond
	maxConflictBackoff = 200 * time.Millisecond
)

// updateOnce is one attempt of update; c.mu is held.
func (c *Controller) updateOnce(ctx context.Context, force bool, fn func(tx *Tx) error) error {
	old := c.Model()
	seq := c.seq
	tx := &Tx{c: c, m: old.shallowCopy(), dirty: map[string]bool{}, binds: map[string]string{}}
	if err := fn(tx); err != nil {
		c.seq = seq
		return err
	}
	if len(tx.dirty) == 0 && !force {
		return nil
	}
	cfg, err := Compile(tx.m)
	if err != nil {
		c.seq = seq
		return err
	}
	if ps := config.CheckTimeouts(cfg); len(ps) > 0 {
		c.seq = seq
		return &config.ValidationError{Problems: ps}
	}
	for k, id := range tx.binds {
		if err := c.opts.IDs.Bind(k, id); err != nil {
			c.seq = seq
			return &StoreError{Err: err}
		}
	}
	if err := c.opts.Node.Apply(cfg); err != nil {
		c.seq = seq
		c.restoreBinds(old, tx.binds)
		return &ApplyError{Err: err}
	}
	ops, err := tx.ops()
	if err != nil {
		c.rollback(old)
		return &StoreError{Err: err}
	}
	rev, err := c.opts.Store.Commit(ctx, c.rev, ops)
	if err != nil {
		c.rollback(old)
		c.restoreBinds(old, tx.binds)
		return &StoreError{Err: err}
	}
	c.publish(tx.m, rev)
	if c.kvs != nil {
		for _, op := range ops {
			if op.Delete {
				delete(c.kvs, op.Key)
			} else {
				c.kvs[op.Key] = op.Value
			}
		}
		c.saveCache(rev)
	}
	if len(tx.release) > 0 {
		// Ids of deleted resources are forgotten so that a new resource of
		// the same name gets a new ARN, as on AWS; keys still in use (a
		// listener that moved onto a released port) keep theirs.
		var rel []string
		_ = c.bindIDs(tx.m)
		for _, k := range tx.release {
			if !c.keyInUse(tx.m, k) {
				rel = append(rel, k)
			}
		}
		if err := c.opts.IDs.Release(rel); err != nil {
			c.log.Warn("releasing the ids of deleted resources", "err", err)
		}
	}
	return nil
}

func (c *Controller) keyInUse(m *Model, key string) bool {
	for _, lb := range m.LoadBalancers {
		if snapshot.LoadBalancerKey(lb.Name) == key {
			return true
		}
		for _, l := range m.Listeners {
			if l.LoadBalancerID == lb.ID && snapshot.ListenerKey(lb.Name, l.Port) == key {
				return true
			}
		}
	}
	for _, tg := range m.TargetGroups {
		if snapshot.TargetGroupKey(tg.Name) == key {
			return true
		}
	}
	for _, ts := range m.TrustStores {
		if TrustStoreKey(ts.Name) == key {
			return true
		}
	}
	return false
}

// rollback puts the node back on the configuration of old after a change it
// applied could not be stored.
func (c *Controller) rollback(old *Model) {
	cfg, err := Compile(old)
	if err == nil {
		err = c.opts.Node.Apply(cfg)
	}
	if err != nil {
		c.log.Error("restoring the previous configuration after a failed write", "err", err)
	}
}

func (c *Controller) restoreBinds(old *Model, binds map[string]string) {
	if len(binds) == 0 {
		return
	}
	if err := c.bindIDs(old); err != nil {
		c.log.Warn("restoring resource ids", "err", err)
	}
}

func (m *Model) shallowCopy() *Model {
	n := *m
	n.LoadBalancers = make(map[string]*LoadBalancer, len(m.LoadBalancers))
	for k, v := range m.LoadBalancers {
		n.LoadBalancers[k] = v
	}
	n.TargetGroups = make(map[string]*TargetGroup, len(m.TargetGroups))
	for k, v := range m.TargetGroups {
		n.TargetGroups[k] = v
	}
	n.Listeners = make(map[string]*Listener, len(m.Listeners))
	for k, v := range m.Listeners {
		n.Listeners[k] = v
	}
	n.TrustStores = make(map[string]*TrustStore, len(m.TrustStores))
	for k, v := range m.TrustStores {
		n.TrustStores[k] = v
	}
	return &n
}

// ops turns the touched records into store ops.
func (tx *Tx) ops() ([]state.Op, error) {
	var ops []state.Op
	for key := range tx.dirty {
		var rec any
		switch {
		case strings.HasPrefix(key, prefixLoadBalancer):
			if r := tx.m.LoadBalancers[strings.TrimPrefix(key, prefixLoadBalancer)]; r != nil {
				rec = r
			}
		case strings.HasPrefix(key, prefixTargetGroup):
			if r := tx.m.TargetGroups[strings.TrimPrefix(key, prefixTargetGroup)]; r != nil {
				rec = r
			}
		case strings.HasPrefix(key, prefixListener):
			if r := tx.m.Listeners[strings.TrimPrefix(key, prefixListener)]; r != nil {
				rec = r
			}
		case strings.HasPrefix(key, prefixTrustStore):
			if r := tx.m.TrustStores[strings.TrimPrefix(key, prefixTrustStore)]; r != nil {
				rec = r
			}
		}
		if rec == nil {
			ops = append(ops, state.Delete(key))
			continue
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		ops = append(ops, state.Put(key, b))
	}
	return ops, nil
}

// Compile turns a model into the configuration the node applies. Draining
// targets are not in TargetGroup.Targets, so they get no new requests.
func Compile(m *Model) (*config.Config, error) {
	cfg := &config.Config{Region: m.Region, AccountID: m.AccountID}
	compileTrustStores(m, cfg)
	for _, tg := range m.SortedTargetGroups() {
		full, typed, err := config.NormalizeTargetGroupAttributes(tg.Attributes)
		if err != nil {
			return nil, fmt.Errorf("target group %q: %w", tg.Name, err)
		}
		ctg := config.TargetGroup{
			Name:            tg.Name,
			Protocol:        tg.Protocol,
			ProtocolVersion: tg.ProtocolVersion,
			Port:            tg.Port,
			HealthCheck:     tg.HealthCheck,
			Attributes:      full,
			Attrs:           typed,
		}
		ctg.HealthCheck.GrpcCode = ""
		if tg.ProtocolVersion == config.ProtocolVersionGRPC {
			ctg.HealthCheck.GrpcCode = cmp.Or(tg.GrpcCode, config.DefaultGRPCCode)
		}
		for _, t := range tg.Targets {
			ctg.Targets = append(ctg.Targets, config.Target{ID: t.ID, Port: t.Port})
		}
		for _, d := range tg.Draining {
			ctg.Draining = append(ctg.Draining, config.DrainingTarget{Target: config.Target{ID: d.ID, Port: d.Port}, Until: d.Until})
		}
		cfg.TargetGroups = append(cfg.TargetGroups, ctg)
	}
	for _, lb := range m.SortedLoadBalancers() {
		full, typed, err := config.NormalizeLoadBalancerAttributes(lb.Attributes)
		if err != nil {
			return nil, fmt.Errorf("load balancer %q: %w", lb.Name, err)
		}
		clb := config.LoadBalancer{Name: lb.Name, Attributes: full, Attrs: typed, AccessLog: lb.AccessLog,
			ConnectionLog: lb.ConnectionLog, HealthCheckLog: lb.HealthCheckLog}
		for _, l := range m.ListenersOf(lb.ID) {
			addr := l.Address
			if addr == "" || m.BindLocally && addr == config.DefaultListenerAddress {
				addr = m.ListenAddress
			}
			full, attrs, err := config.NormalizeListenerAttributes(l.Attributes)
			if err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.ID, err)
			}
			cl := config.Listener{Port: l.Port, Address: addr, Protocol: l.Protocol, DefaultActions: l.DefaultActions, SSLPolicy: l.SSLPolicy,
				Attributes: full, Attrs: attrs, MutualAuthentication: l.MutualAuthentication}
			if ma := l.MutualAuthentication; ma.Enabled() && ma.Mode == config.MTLSModeVerify && m.TrustStoreByName(ma.TrustStore) == nil {
				return nil, fmt.Errorf("listener %s: trust store %q does not exist", l.ID, ma.TrustStore)
			}
			for _, c := range l.Certificates {
				if c.Cert == "" {
					var err error
					if c.Cert, c.Key, err = CertificateFiles(m.CertificateDir, c.ARN); err != nil {
						return nil, fmt.Errorf("listener %s: %w", l.ID, err)
					}
				}
				cl.Certificates = append(cl.Certificates, c)
			}
			for _, r := range l.SortedRules() {
				cl.Rules = append(cl.Rules, config.Rule{Priority: r.Priority, Conditions: r.Conditions, Actions: r.Actions, Transforms: r.Transforms})
			}
			for _, name := range cl.TargetGroupNames() {
				if m.TargetGroupByName(name) == nil {
					return nil, fmt.Errorf("listener %s: target group %q does not exist", l.ID, name)
				}
			}
			clb.Listeners = append(clb.Listeners, cl)
		}
		cfg.LoadBalancers = append(cfg.LoadBalancers, clb)
	}
	return cfg, nil
}
