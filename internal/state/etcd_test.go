package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// nextEvent returns the next event, failing the test if none comes in time.
func nextEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

// within runs fn and fails the test if it has not returned after a bound far
// above any request timeout: the check that a call never hangs.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s hangs", what)
	}
	return nil
}

// TestEtcdTwoClientsConflict: two nodes that read the same revision cannot
// both commit; the loser reads again and wins. Another prefix is another,
// independent state.
func TestEtcdTwoClientsConflict(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	a, b := openEtcd(t, c, "/albatross"), openEtcd(t, c, "/albatross/")
	other := openEtcd(t, c, "/other")
	_, ra := load(t, a, "")
	_, rb := load(t, b, "")
	if ra != rb {
		t.Fatalf("two clients read revisions %d and %d", ra, rb)
	}
	r1, err := a.Commit(ctx, ra, []Op{Put("rule/1", []byte("from a"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx, rb, []Op{Put("rule/1", []byte("from b"))}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second writer at the same revision: %v, want ErrConflict", err)
	}
	got, rev := load(t, b, "")
	if rev != r1 || got["rule/1"] != "from a" {
		t.Fatalf("b reads %v at %d, want a's write at %d", got, rev, r1)
	}
	if _, err := b.Commit(ctx, rev, []Op{Put("rule/1", []byte("from b"))}); err != nil {
		t.Fatalf("b at the new revision: %v", err)
	}
	if got, _ := load(t, a, ""); got["rule/1"] != "from b" {
		t.Fatalf("a reads %v", got)
	}
	// Another prefix: its own revision (none yet) and keys.
	if got, rev := load(t, other, ""); len(got) != 0 || rev != 0 {
		t.Fatalf("other prefix holds %v at %d", got, rev)
	}
	if _, err := other.Commit(ctx, 0, []Op{Put("rule/1", nil)}); err != nil {
		t.Fatal(err)
	}
	// A change larger than the cluster's --max-txn-ops fails whole, saying
	// which setting to raise.
	var big []Op
	for i := range etcdtest.MaxTxnOps + 1 {
		big = append(big, Put(fmt.Sprintf("t/%d", i), nil))
	}
	if _, err := a.Commit(ctx, AnyRevision, big); err == nil || !strings.Contains(err.Error(), "--max-txn-ops") {
		t.Fatalf("commit of %d ops: %v", len(big), err)
	}
	if got, _ := load(t, a, "t/"); len(got) != 0 {
		t.Fatalf("a failed commit stored %d keys", len(got))
	}
}

// TestEtcdWatchSeesOtherClient: a change committed through one client reaches
// the watch of another, with its revision and ops, and nothing from another
// prefix does.
func TestEtcdWatchSeesOtherClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := etcdtest.Start(t, 1)
	a, b, other := openEtcd(t, c, "/albatross"), openEtcd(t, c, "/albatross"), openEtcd(t, c, "/albatross-other")
	_, events, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Commit(ctx, AnyRevision, []Op{Put("lb/x", nil)}); err != nil {
		t.Fatal(err)
	}
	rev, err := a.Commit(ctx, AnyRevision, []Op{Put("lb/1", []byte("v1")), Put("tg/1", []byte("v2"))})
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, events)
	if ev.Revision != rev || len(ev.Ops) != 2 || ev.Ops[0].Key != "lb/1" || ev.Ops[0].Delete ||
		string(ev.Ops[0].Value) != "v1" || ev.Ops[1].Key != "tg/1" || string(ev.Ops[1].Value) != "v2" {
		t.Fatalf("event %+v, want a's commit at %d", ev, rev)
	}
	rev, err = a.Commit(ctx, rev, []Op{Delete("lb/1")})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events); ev.Revision != rev || len(ev.Ops) != 1 || !ev.Ops[0].Delete || ev.Ops[0].Key != "lb/1" {
		t.Fatalf("event %+v, want the delete at %d", ev, rev)
	}
}

// TestEtcdWatchResyncAfterCompaction: a watch that resumes at a revision etcd
// has compacted away delivers the net change of what it missed, then follows
// on.
func TestEtcdWatchResyncAfterCompaction(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := etcdtest.Start(t, 1)
	e := openEtcd(t, c, "/albatross")
	if _, err := e.Commit(ctx, AnyRevision, []Op{Put("keep", []byte("1")), Put("change", []byte("1")), Put("gone", []byte("1"))}); err != nil {
		t.Fatal(err)
	}
	// A follower that saw the state up to now, as a watch broken at this
	// point would have.
	resp, err := e.cli.Get(ctx, e.prefix+etcdKV, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for _, kv := range resp.Kvs {
		seen[string(kv.Key)] = kv.ModRevision
	}
	_, last := load(t, e, "")
	f := &follower{e: e, w: &watcher{out: make(chan Event), wake: make(chan struct{}, 1), done: make(chan struct{})}, seen: seen, next: resp.Header.Revision + 1, last: last}
	// What it misses: a change, a delete, a new key, several commits.
	if _, err := e.Commit(ctx, AnyRevision, []Op{Put("change", []byte("2")), Delete("gone")}); err != nil {
		t.Fatal(err)
	}
	rev, err := e.Commit(ctx, AnyRevision, []Op{Put("new", []byte("3"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.w.run() }()
	go func() { defer wg.Done(); f.run(ctx) }()
	defer func() { cancel(); f.w.stop(); wg.Wait() }()
	ev := nextEvent(t, f.w.out)
	got := map[string]string{}
	for _, op := range ev.Ops {
		if op.Delete {
			got[op.Key] = "deleted"
		} else {
			got[op.Key] = string(op.Value)
		}
	}
	if ev.Revision != rev || len(got) != 3 || got["change"] != "2" || got["gone"] != "deleted" || got["new"] != "3" {
		t.Fatalf("event after compaction %+v, want the net change at %d", ev, rev)
	}
	// And it follows on from there.
	rev, err = e.Commit(ctx, AnyRevision, []Op{Put("after", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, f.w.out); ev.Revision != rev || len(ev.Ops) != 1 || ev.Ops[0].Key != "after" {
		t.Fatalf("event %+v, want the commit at %d", ev, rev)
	}
}

// TestEtcdClusterMemberAndQuorumLoss runs a three-member cluster: with one
// member stopped commits and watches go on; with two stopped (no quorum) every
// call fails within its timeout with ErrUnavailable, never hangs; when the
// members return, writes resume and the watch delivers every change once, in
// order.
func TestEtcdClusterMemberAndQuorumLoss(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := etcdtest.Start(t, 3)
	open := func() *Etcd {
		e, err := OpenEtcd(ctx, EtcdOptions{Endpoints: c.Endpoints(), RequestTimeout: 2 * time.Second, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	a, b := open(), open()
	_, events, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(name string) int64 {
		t.Helper()
		_, rev := load(t, a, "")
		r, err := a.Commit(ctx, rev, []Op{Put("change/"+name, []byte(name))})
		if err != nil {
			t.Fatalf("commit %s: %v", name, err)
		}
		return r
	}
	expect := func(name string, rev int64) {
		t.Helper()
		if ev := nextEvent(t, events); ev.Revision != rev || len(ev.Ops) != 1 || ev.Ops[0].Key != "change/"+name {
			t.Fatalf("event %+v, want %s at %d", ev, name, rev)
		}
	}
	expect("1", commit("1"))

	c.Stop(0)
	expect("2", commit("2"))
	if _, err := a.IDs().Assign([]string{"loadbalancer/web"}); err != nil {
		t.Fatalf("Assign with one member of three stopped: %v", err)
	}

	_, rev := load(t, b, "")
	c.Stop(1)
	// Once the last member knows it has no leader, it refuses requests rather
	// than proposing them (so that the one below cannot be applied later).
	c.WaitLeaderless(t, 2)
	err = within(t, "Commit without quorum", func() error {
		_, err := a.Commit(ctx, rev, []Op{Put("change/lost", nil)})
		return err
	})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "etcd store ") {
		t.Fatalf("Commit without quorum: %v, want ErrUnavailable naming the store", err)
	}
	t.Logf("Commit without quorum: %v", err)
	err = within(t, "Load without quorum", func() error { _, _, err := a.Load(ctx, ""); return err })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Load without quorum: %v", err)
	}
	err = within(t, "Assign without quorum", func() error { _, err := a.IDs().Assign([]string{"loadbalancer/new"}); return err })
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Assign without quorum: %v", err)
	}
	// A caller's shorter deadline is kept.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = within(t, "Commit without quorum", func() error { _, err := a.Commit(short, rev, []Op{Put("change/lost", nil)}); return err })
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Commit without quorum, 300ms deadline: %v", err)
	}

	c.Restart(0)
	c.Restart(1)
	r3 := commit("3")
	expect("3", r3)
	expect("4", commit("4"))
	if got, _ := load(t, b, "change/"); len(got) != 4 {
		t.Fatalf("after recovery b reads %v", got)
	}
}

// TestEtcdIDsUniqueAcrossClients: nodes assigning at once get one id per key
// and never one id for two keys.
func TestEtcdIDsUniqueAcrossClients(t *testing.T) {
	c := etcdtest.Start(t, 1)
	const nodes, keys = 4, 50
	regs := make([]*EtcdIDs, nodes)
	for i := range regs {
		regs[i] = openEtcd(t, c, "/albatross").IDs()
	}
	results := make([]map[string]string, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := map[string]string{}
			for k := range keys {
				// Every node assigns the shared keys and keys of its own.
				ids, err := regs[i].Assign([]string{fmt.Sprintf("shared/%d", k), fmt.Sprintf("node%d/%d", i, k)})
				if err != nil {
					errs[i] = err
					return
				}
				for k, v := range ids {
					out[k] = v
				}
			}
			results[i] = out
		}()
	}
	wg.Wait()
	owner := map[string]string{}
	for i, res := range results {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		for k, id := range res {
			if o, ok := owner[id]; ok && o != k {
				t.Fatalf("id %s given to %s and %s", id, o, k)
			}
			owner[id] = k
		}
	}
	for k := range keys {
		key := fmt.Sprintf("shared/%d", k)
		for i := 1; i < nodes; i++ {
			if results[i][key] != results[0][key] {
				t.Fatalf("%s: node 0 got %s, node %d got %s", key, results[0][key], i, results[i][key])
			}
		}
	}
	if len(owner) != keys*(nodes+1) {
		t.Fatalf("%d ids for %d keys", len(owner), keys*(nodes+1))
	}
}

// TestOpenEtcdErrors: what OpenEtcd refuses, and that an unreachable cluster
// is an error within the timeouts.
func TestOpenEtcdErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := OpenEtcd(ctx, EtcdOptions{}); err == nil {
		t.Error("OpenEtcd without endpoints succeeded")
	}
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	err = within(t, "OpenEtcd of a dead endpoint", func() error {
		e, err := OpenEtcd(ctx, EtcdOptions{Endpoints: []string{dead}, DialTimeout: time.Second, RequestTimeout: time.Second})
		if err == nil {
			e.Close()
		}
		return err
	})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), dead) {
		t.Errorf("OpenEtcd of %s: %v, want ErrUnavailable naming it", dead, err)
	}

	c := etcdtest.Start(t, 1)
	if _, err := OpenEtcd(ctx, EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/"}); err == nil {
		t.Error("OpenEtcd with prefix / succeeded")
	}
	e := openEtcd(t, c, "/albatross")
	if _, err := e.cli.Put(ctx, "/future"+etcdSchema, "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenEtcd(ctx, EtcdOptions{Endpoints: c.Endpoints(), Prefix: "/future"}); err == nil || !strings.Contains(err.Error(), `schema version "2"`) {
		t.Errorf("OpenEtcd of another schema version: %v", err)
	}
}
