package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/state"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
)

// recorder is an Applier that keeps what it was given and fails on demand.
// (The node itself is exercised end to end by the elbv2 tests; these tests
// are about the controller's ordering of apply, commit and rollback.)
type recorder struct {
	mu      sync.Mutex
	applied []*config.Config
	fail    error
}

func (r *recorder) Apply(cfg *config.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.applied = append(r.applied, cfg)
	return nil
}

func (r *recorder) last() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied[len(r.applied)-1]
}

func newController(t *testing.T) (*Controller, *state.Bolt, *recorder) {
	t.Helper()
	st, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &recorder{}
	c, err := New(context.Background(), Options{Store: st, IDs: st.IDs(), Node: rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return c, st, rec
}

func addTargetGroup(name string) func(tx *Tx) error {
	return func(tx *Tx) error {
		id, err := tx.NewID("targetgroup/" + name)
		if err != nil {
			return err
		}
		tx.PutTargetGroup(&TargetGroup{ID: id, Name: name, Seq: tx.NextSeq(), Protocol: "HTTP", Port: 80,
			HealthCheck: config.DefaultHealthCheck(), Attributes: config.TargetGroupAttributeDefaults()})
		return nil
	}
}

func stored(t *testing.T, st state.Store) int {
	kvs, _, err := st.Load(context.Background(), prefixTargetGroup)
	if err != nil {
		t.Fatal(err)
	}
	return len(kvs)
}

func TestUpdateAppliesThenCommits(t *testing.T) {
	c, st, rec := newController(t)
	if err := c.Update(context.Background(), addTargetGroup("a")); err != nil {
		t.Fatal(err)
	}
	if got := rec.last(); len(got.TargetGroups) != 1 || got.TargetGroups[0].Name != "a" {
		t.Fatalf("applied %+v", got)
	}
	if stored(t, st) != 1 || c.Model().TargetGroupByName("a") == nil {
		t.Fatal("change not stored or not published")
	}

	// The node refuses: nothing is stored or published.
	rec.fail = errors.New("bind: address already in use")
	err := c.Update(context.Background(), addTargetGroup("b"))
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("Update with a failing node: %v, want *ApplyError", err)
	}
	rec.fail = nil
	if stored(t, st) != 1 || c.Model().TargetGroupByName("b") != nil {
		t.Error("a change the node refused was stored or published")
	}

	// fn fails: nothing happens, and the error comes back as is.
	boom := errors.New("boom")
	n := len(rec.applied)
	if err := c.Update(context.Background(), func(tx *Tx) error { addTargetGroup("c")(tx); return boom }); err != boom {
		t.Errorf("Update returned %v, want fn's error", err)
	}
	if len(rec.applied) != n || c.Model().TargetGroupByName("c") != nil {
		t.Error("a failed fn reached the node or the model")
	}
}

// failingStore is a Store whose commits fail once fail is set.
type failingStore struct {
	state.Store
	fail bool
}

var errDiskFull = errors.New("no space left on device")

func (f *failingStore) Commit(ctx context.Context, rev int64, ops []state.Op) (int64, error) {
	if f.fail {
		return 0, errDiskFull
	}
	return f.Store.Commit(ctx, rev, ops)
}

func TestUpdateRollsBackWhenTheStoreFails(t *testing.T) {
	c, st, rec := newController(t)
	fs := &failingStore{Store: st}
	c.opts.Store = fs
	if err := c.Update(context.Background(), addTargetGroup("a")); err != nil {
		t.Fatal(err)
	}
	fs.fail = true
	err := c.Update(context.Background(), addTargetGroup("b"))
	var se *StoreError
	if !errors.As(err, &se) || !errors.Is(err, errDiskFull) {
		t.Fatalf("Update with a failing store: %v, want *StoreError wrapping the store's error", err)
	}
	// The node got the new configuration, then the old one back.
	if got := rec.last(); len(got.TargetGroups) != 1 || got.TargetGroups[0].Name != "a" {
		t.Errorf("node left on %+v, want the configuration before the failed change", got)
	}
	if c.Model().TargetGroupByName("b") != nil {
		t.Error("a change that was not stored was published")
	}
}

// TestRunAppliesChangesOfOtherWriters: a change committed to the store by
// another writer (another node, with a shared store) reaches this node.
func TestRunAppliesChangesOfOtherWriters(t *testing.T) {
	c, st, rec := newController(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The controller's own change is applied once, not again by the watch.
	if err := c.Update(context.Background(), addTargetGroup("own")); err != nil {
		t.Fatal(err)
	}
	tg := commitForeign(t, st, "foreign", "00000000000000aa")
	waitForTargetGroup(t, c, "foreign")
	if got := rec.last(); len(got.TargetGroups) != 2 {
		t.Errorf("node has %d target groups, want 2", len(got.TargetGroups))
	}
	if id, ok, _ := c.opts.IDs.Lookup("targetgroup/foreign"); !ok || id != tg.ID {
		t.Errorf("id registry has %q for the foreign group, want %s", id, tg.ID)
	}
}

// commitForeign commits target group name with id to st as another writer
// would, and returns it.
func commitForeign(t *testing.T, st state.Store, name, id string) *TargetGroup {
	t.Helper()
	tg := &TargetGroup{ID: id, Name: name, Seq: 100, Protocol: "HTTP", Port: 81,
		HealthCheck: config.DefaultHealthCheck(), Attributes: config.TargetGroupAttributeDefaults()}
	b, err := json.Marshal(tg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), state.AnyRevision, []state.Op{state.Put(prefixTargetGroup+tg.ID, b)}); err != nil {
		t.Fatal(err)
	}
	return tg
}

// waitForTargetGroup waits until c's model has target group name.
func waitForTargetGroup(t *testing.T, c *Controller, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Model().TargetGroupByName(name) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the change making %s never reached the model", name)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// loadFailingStore is a Store whose Load fails while fail is set, as an
// etcd store does while it has no quorum; failed is signalled at each
// failure.
type loadFailingStore struct {
	state.Store
	fail   atomic.Bool
	failed chan struct{}
}

func (f *loadFailingStore) Load(ctx context.Context, prefix string) ([]state.KV, int64, error) {
	if f.fail.Load() {
		select {
		case f.failed <- struct{}{}:
		default:
		}
		return nil, 0, fmt.Errorf("load: %w", state.ErrUnavailable)
	}
	return f.Store.Load(ctx, prefix)
}

// TestRunRetriesAChangeItCouldNotApply: a change from another writer whose
// reading fails (the store lost just then) is applied once the store
// answers again, though no later change comes to prompt it.
func TestRunRetriesAChangeItCouldNotApply(t *testing.T) {
	c, st, _ := newController(t)
	fs := &loadFailingStore{Store: st, failed: make(chan struct{}, 1)}
	c.opts.Store = fs
	fs.fail.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	commitForeign(t, st, "foreign", "00000000000000ab")
	select {
	case <-fs.failed:
	case <-time.After(10 * time.Second):
		t.Fatal("the controller never tried to apply the foreign change")
	}
	if c.Model().TargetGroupByName("foreign") != nil {
		t.Fatal("applied a change it could not read")
	}
	fs.fail.Store(false)
	waitForTargetGroup(t, c, "foreign")
}

// etcdNode starts a controller on its own connection to cluster, as one node
// of several; it does not run the watch (Run), so it sees other nodes'
// changes only when it reads the store.
func etcdNode(t *testing.T, cluster *etcdtest.Cluster) (*Controller, state.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := state.OpenEtcd(ctx, state.EtcdOptions{Endpoints: cluster.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := New(ctx, Options{Store: st, IDs: st.IDs(), Node: &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return c, st
}

// TestConcurrentNodesOnEtcd: two controllers (two nodes) share one etcd store,
// neither watching it. The second's change, made on a stale model, conflicts;
// it catches up and is made again on top of the first's, so both are kept.
func TestConcurrentNodesOnEtcd(t *testing.T) {
	ctx := context.Background()
	cluster := etcdtest.Start(t, 1)
	c1, st := etcdNode(t, cluster)
	c2, _ := etcdNode(t, cluster)
	if err := c1.Update(ctx, addTargetGroup("a")); err != nil {
		t.Fatal(err)
	}
	if err := c2.Update(ctx, addTargetGroup("b")); err != nil {
		t.Fatalf("update on a stale node: %v", err)
	}
	if stored(t, st) != 2 || c2.Model().TargetGroupByName("a") == nil || c2.Model().TargetGroupByName("b") == nil {
		t.Fatalf("after two nodes' changes: %d stored; node 2 has %v", stored(t, st), c2.Model().TargetGroups)
	}
	// The ids come from one registry: the same name has one id on both.
	if a1, a2 := c1.Model().TargetGroupByName("a"), c2.Model().TargetGroupByName("a"); a1.ID != a2.ID {
		t.Errorf("target group a has ids %s and %s", a1.ID, a2.ID)
	}
}

// TestChangeOnAResourceAnotherNodeJustMade: a node whose model is older than
// the store (its watch has not delivered another node's change) judges a
// change on the store's state, not its own: a target group created on node
// 1 can be modified through node 2 at once, and a change that fails on the
// store's state too still fails.
func TestChangeOnAResourceAnotherNodeJustMade(t *testing.T) {
	ctx := context.Background()
	cluster := etcdtest.Start(t, 1)
	c1, _ := etcdNode(t, cluster)
	c2, _ := etcdNode(t, cluster) // neither runs its watch: c2 stays behind
	if err := c1.Update(ctx, addTargetGroup("a")); err != nil {
		t.Fatal(err)
	}
	errNotFound := errors.New("target group a not found")
	modify := func(port int) func(tx *Tx) error {
		return func(tx *Tx) error {
			tg := tx.Model().TargetGroupByName("a")
			if tg == nil {
				return errNotFound
			}
			changed := *tg
			changed.Port = port
			tx.PutTargetGroup(&changed)
			return nil
		}
	}
	if err := c2.Update(ctx, modify(8080)); err != nil {
		t.Fatalf("modifying on node 2 the group node 1 created: %v", err)
	}
	if tg := c2.Model().TargetGroupByName("a"); tg == nil || tg.Port != 8080 {
		t.Fatalf("node 2 holds %+v", tg)
	}
	if err := c2.Update(ctx, func(tx *Tx) error { return errNotFound }); err != errNotFound {
		t.Errorf("a change that fails on the current state: %v", err)
	}
}
