package state

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
)

// handle is one open Store with its id registry; close releases it.
type handle struct {
	Store
	ids   IDRegistry
	close func() error
}

// opener opens a handle on one durable state; a second call after the first
// handle is closed reopens the same state.
type opener func(t *testing.T) handle

// boltOpener opens the Bolt store in dir.
func boltOpener(dir string) opener {
	return func(t *testing.T) handle {
		t.Helper()
		b, err := Open(dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return handle{Store: b, ids: b.IDs(), close: b.Close}
	}
}

// etcdOpener opens the Etcd store on c under prefix.
func etcdOpener(c *etcdtest.Cluster, prefix string) opener {
	return func(t *testing.T) handle {
		t.Helper()
		e := openEtcd(t, c, prefix)
		return handle{Store: e, ids: e.IDs(), close: e.Close}
	}
}

// openEtcd opens an Etcd store on c under prefix, closed when the test ends
// (closing twice is harmless).
func openEtcd(t *testing.T, c *etcdtest.Cluster, prefix string) *Etcd {
	t.Helper()
	e, err := OpenEtcd(context.Background(), EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// forEachBackend runs test against a fresh, empty state of every Store
// implementation: Bolt in a temporary directory, and Etcd on a real etcd
// member embedded in the test.
func forEachBackend(t *testing.T, test func(t *testing.T, open opener)) {
	t.Run("bolt", func(t *testing.T) { test(t, boltOpener(t.TempDir())) })
	t.Run("etcd", func(t *testing.T) { test(t, etcdOpener(etcdtest.Start(t, 1), "/albatross-test")) })
}

func load(t *testing.T, s Store, prefix string) (map[string]string, int64) {
	t.Helper()
	kvs, rev, err := s.Load(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = string(kv.Value)
	}
	return m, rev
}

func TestStoreCommitLoadReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		h := open(t)
		if _, rev := load(t, h, ""); rev != 0 {
			t.Fatalf("revision of an empty store = %d, want 0", rev)
		}
		rev1, err := h.Commit(ctx, 0, []Op{Put("lb/1", []byte("a")), Put("lb/2", []byte("b")), Put("tg/1", []byte("c"))})
		if err != nil || rev1 <= 0 {
			t.Fatalf("first commit: rev %d, %v", rev1, err)
		}
		rev2, err := h.Commit(ctx, AnyRevision, []Op{Delete("lb/1"), Put("lb/3", []byte("d"))})
		if err != nil || rev2 <= rev1 {
			t.Fatalf("second commit: rev %d (first %d), %v", rev2, rev1, err)
		}
		got, rev := load(t, h, "lb/")
		if rev != rev2 || len(got) != 2 || got["lb/2"] != "b" || got["lb/3"] != "d" {
			t.Fatalf("Load(lb/) = %v at %d, want lb/2, lb/3 at %d", got, rev, rev2)
		}
		kvs, _, err := h.Load(ctx, "")
		if err != nil || len(kvs) != 3 || kvs[0].Key != "lb/2" || kvs[1].Key != "lb/3" || kvs[2].Key != "tg/1" {
			t.Fatalf("Load() = %v, %v; want three keys in key order", kvs, err)
		}
		ids, err := h.ids.Assign([]string{"loadbalancer/web"})
		if err != nil {
			t.Fatal(err)
		}
		// The id registry is not in the Store's keys, and writing it does not
		// make a Commit conflict.
		if got, rev := load(t, h, ""); len(got) != 3 || rev != rev2 {
			t.Fatalf("after Assign: %v at %d", got, rev)
		}
		if err := h.close(); err != nil {
			t.Fatal(err)
		}
		h = open(t)
		defer h.close()
		got, rev = load(t, h, "")
		if rev != rev2 || len(got) != 3 || got["tg/1"] != "c" {
			t.Fatalf("after reopen: %v at %d", got, rev)
		}
		if id, ok, _ := h.ids.Lookup("loadbalancer/web"); !ok || id != ids["loadbalancer/web"] {
			t.Errorf("id after reopen = %q, want %q", id, ids["loadbalancer/web"])
		}
		if _, err := h.Commit(ctx, rev2, []Op{Put("x", nil)}); err != nil {
			t.Errorf("commit at the revision read after reopen: %v", err)
		}
	})
}

func TestStoreCommitConflictAndAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		h := open(t)
		defer h.close()
		rev, err := h.Commit(ctx, 0, []Op{Put("a", []byte("1"))})
		if err != nil {
			t.Fatal(err)
		}
		// A writer that read revision 0 lost the race.
		_, err = h.Commit(ctx, 0, []Op{Put("a", []byte("2"))})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("stale commit: %v, want ErrConflict", err)
		}
		// A bad op anywhere in the list stores nothing.
		if _, err := h.Commit(ctx, AnyRevision, []Op{Put("b", []byte("x")), Put("", []byte("y"))}); err == nil || !strings.Contains(err.Error(), "empty key") {
			t.Fatalf("commit with an empty key: %v", err)
		}
		big := strings.Repeat("k", 40000)
		if _, err := h.Commit(ctx, AnyRevision, []Op{Put("b", []byte("x")), Put(big, []byte("y"))}); err == nil {
			t.Fatal("commit with an oversized key succeeded")
		}
		got, cur := load(t, h, "")
		if cur != rev || len(got) != 1 || got["a"] != "1" {
			t.Fatalf("after failed commits: %v at %d, want only a=1 at %d", got, cur, rev)
		}
		// The winner's revision is current: a commit at it succeeds.
		if _, err := h.Commit(ctx, rev, []Op{Put("a", []byte("3"))}); err != nil {
			t.Fatalf("commit at the current revision: %v", err)
		}
	})
}

// TestStoreCommitSameKeyTwice: ops apply in order, so the last op on a key
// wins.
func TestStoreCommitSameKeyTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		ctx := context.Background()
		h := open(t)
		defer h.close()
		if _, err := h.Commit(ctx, AnyRevision, []Op{Put("a", []byte("1")), Put("b", []byte("1")), Put("a", []byte("2")), Delete("b"), Put("c", nil)}); err != nil {
			t.Fatal(err)
		}
		got, _ := load(t, h, "")
		if len(got) != 2 || got["a"] != "2" || got["c"] != "" {
			t.Fatalf("after a commit naming keys twice: %v", got)
		}
	})
}

func TestStoreWatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		h := open(t)
		defer h.close()
		var before []Op
		for i := range 50 {
			before = append(before, Put(fmt.Sprintf("d%02d", i), nil))
		}
		rev0, err := h.Commit(ctx, AnyRevision, before)
		if err != nil {
			t.Fatal(err)
		}
		rev, events, err := h.Watch(ctx)
		if err != nil || rev != rev0 {
			t.Fatalf("Watch: %d, %v; want revision %d", rev, err, rev0)
		}
		// Many commits without reading: Commit never blocks on a slow
		// watcher. Writes to the id registry are not Store events.
		var revs []int64
		for i := range 50 {
			r, err := h.Commit(ctx, AnyRevision, []Op{Put("k", []byte{byte(i)}), Delete(fmt.Sprintf("d%02d", i))})
			if err != nil {
				t.Fatal(err)
			}
			revs = append(revs, r)
			if i == 10 {
				if _, err := h.ids.Assign([]string{"loadbalancer/x"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i, want := range revs {
			select {
			case ev := <-events:
				if ev.Revision != want || len(ev.Ops) != 2 || ev.Ops[0].Key != "k" || ev.Ops[0].Value[0] != byte(i) ||
					!ev.Ops[1].Delete || ev.Ops[1].Key != fmt.Sprintf("d%02d", i) {
					t.Fatalf("event %+v, want revision %d", ev, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no event for revision %d", want)
			}
		}
		cancel()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				t.Fatalf("event after the last commit: %+v", ev)
			case <-time.After(10 * time.Second):
				t.Fatal("watch channel not closed after cancel")
			}
		}
	})
}

func TestStoreClosed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		_, events, err := h.Watch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := h.close(); err != nil {
			t.Fatal(err)
		}
		select {
		case _, ok := <-events:
			if ok {
				t.Fatal("event from a closed store")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch not closed with the store")
		}
		if _, err := h.Commit(context.Background(), AnyRevision, []Op{Put("a", nil)}); !errors.Is(err, ErrClosed) {
			t.Errorf("Commit after Close: %v", err)
		}
		if _, _, err := h.Watch(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Watch after Close: %v", err)
		}
	})
}

func TestIDsAssignStableAcrossReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		keys := []string{"loadbalancer/web", "targetgroup/app", "listener/web/8080", "rule/web/8080/default"}
		h := open(t)
		first, err := h.ids.Assign(keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != len(keys) {
			t.Fatalf("got %d ids for %d keys", len(first), len(keys))
		}
		seen := map[string]string{}
		for _, k := range keys {
			id := first[k]
			if !ValidID(id) {
				t.Errorf("id of %q is %q, want 16 lowercase hex digits", k, id)
			}
			if other, dup := seen[id]; dup {
				t.Errorf("keys %q and %q share id %s", other, k, id)
			}
			seen[id] = k
		}
		if again, err := h.ids.Assign(keys[:2]); err != nil || again[keys[0]] != first[keys[0]] || again[keys[1]] != first[keys[1]] {
			t.Errorf("second Assign with the same handle: %v, %v; want the first ids", again, err)
		}
		if err := h.close(); err != nil {
			t.Fatal(err)
		}
		h = open(t)
		defer h.close()
		// Reversed order, a repeat, and a new key: old keys keep their ids,
		// the new key gets a new one.
		after, err := h.ids.Assign([]string{"targetgroup/other", keys[3], keys[2], keys[1], keys[0], keys[0]})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if after[k] != first[k] {
				t.Errorf("after reopen %q has id %s, want %s", k, after[k], first[k])
			}
		}
		if id := after["targetgroup/other"]; !ValidID(id) || seen[id] != "" {
			t.Errorf("new key got id %q (valid and unused wanted)", id)
		}
		if id, ok, err := h.ids.Lookup(keys[0]); err != nil || !ok || id != first[keys[0]] {
			t.Errorf("Lookup = %q, %v, %v; want %q", id, ok, err, first[keys[0]])
		}
		if _, ok, err := h.ids.Lookup("loadbalancer/none"); err != nil || ok {
			t.Errorf("Lookup of an unknown key: ok=%v err=%v", ok, err)
		}
	})
}

func TestIDsAssignManyDistinct(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		defer h.close()
		var keys []string
		for i := range 2000 {
			keys = append(keys, "targetgroup/tg-"+strconv.Itoa(i))
		}
		ids, err := h.ids.Assign(keys)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("id %s handed out twice", id)
			}
			seen[id] = true
		}
		if len(seen) != len(keys) {
			t.Fatalf("%d ids for %d keys", len(seen), len(keys))
		}
	})
}

// setRand replaces the registry's random source and returns a func that puts
// crypto/rand back.
func setRand(t *testing.T, r IDRegistry, src io.Reader) func() {
	switch r := r.(type) {
	case *IDs:
		r.rand = src
		return func() { r.rand = rand.Reader }
	case *EtcdIDs:
		r.rand = src
		return func() { r.rand = rand.Reader }
	}
	t.Fatalf("setRand: %T", r)
	return nil
}

// TestIDsAssignAllOrNothing fails an Assign after it has drawn ids for earlier
// keys in the same call, and checks that none of them survived.
func TestIDsAssignAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		defer h.close()
		old, err := h.ids.Assign([]string{"loadbalancer/old"})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("bad key", func(t *testing.T) {
			if _, err := h.ids.Assign([]string{"loadbalancer/a", "loadbalancer/old", ""}); err == nil || !strings.Contains(err.Error(), "empty key") {
				t.Fatalf("Assign with an empty key: err = %v", err)
			}
			if _, ok, _ := h.ids.Lookup("loadbalancer/a"); ok {
				t.Error("id of loadbalancer/a was stored by a failed Assign")
			}
		})
		t.Run("random source fails", func(t *testing.T) {
			// Enough bytes for one id, then an error.
			defer setRand(t, h.ids, io.MultiReader(strings.NewReader("01234567"), errReader{}))()
			if _, err := h.ids.Assign([]string{"loadbalancer/b", "loadbalancer/c"}); err == nil {
				t.Fatal("Assign succeeded with a failing random source")
			}
			for _, k := range []string{"loadbalancer/b", "loadbalancer/c"} {
				if _, ok, _ := h.ids.Lookup(k); ok {
					t.Errorf("id of %s was stored by a failed Assign", k)
				}
			}
		})
		if id, ok, _ := h.ids.Lookup("loadbalancer/old"); !ok || id != old["loadbalancer/old"] {
			t.Errorf("existing id changed by failed Assigns: %q", id)
		}
	})
}

// TestIDsFreshIDAvoidsCollision makes the random source repeat an id in use,
// within one Assign and across two.
func TestIDsFreshIDAvoidsCollision(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		defer h.close()
		one, two := "\x00\x00\x00\x00\x00\x00\x00\x01", "\x00\x00\x00\x00\x00\x00\x00\x02"
		restore := setRand(t, h.ids, strings.NewReader(one+one+two))
		ids, err := h.ids.Assign([]string{"a", "b"})
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if ids["a"] != "0000000000000001" || ids["b"] != "0000000000000002" {
			t.Fatalf("ids = %v; want b to skip the id already given to a", ids)
		}
		restore = setRand(t, h.ids, strings.NewReader(one+two+one+two+"\x00\x00\x00\x00\x00\x00\x00\x03"))
		ids, err = h.ids.Assign([]string{"c"})
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if ids["c"] != "0000000000000003" {
			t.Fatalf("id of c = %s; want the first id no other key holds", ids["c"])
		}
	})
}

func TestIDsRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		defer h.close()
		first, err := h.ids.Assign([]string{"loadbalancer/web", "targetgroup/app"})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.ids.Release([]string{"loadbalancer/web", "loadbalancer/never", "loadbalancer/web"}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := h.ids.Lookup("loadbalancer/web"); ok {
			t.Error("a released key still has an id")
		}
		again, err := h.ids.Assign([]string{"loadbalancer/web", "targetgroup/app"})
		if err != nil {
			t.Fatal(err)
		}
		if again["loadbalancer/web"] == first["loadbalancer/web"] {
			t.Error("a released key got its old id back")
		}
		if again["targetgroup/app"] != first["targetgroup/app"] {
			t.Error("an unreleased key lost its id")
		}
	})
}

func TestIDsBind(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		h := open(t)
		defer h.close()
		s := h.ids
		ids, err := s.Assign([]string{"listener/web/80", "listener/web/81"})
		if err != nil {
			t.Fatal(err)
		}
		id := ids["listener/web/80"]
		// The listener moves from port 80 to 8080: same id, new key.
		if err := s.Bind("listener/web/8080", id); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := s.Lookup("listener/web/8080"); !ok || got != id {
			t.Errorf("new key has %q, want %q", got, id)
		}
		if _, ok, _ := s.Lookup("listener/web/80"); ok {
			t.Error("old key still has the id")
		}
		// Binding again is a no-op.
		if err := s.Bind("listener/web/8080", id); err != nil {
			t.Fatal(err)
		}
		// Binding a key that had another id frees that id.
		if err := s.Bind("listener/web/81", id); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.Lookup("listener/web/8080"); ok {
			t.Error("key whose id was taken still has it")
		}
		// 81's old id is free again: a new key may get it, and Assign of 81
		// still answers the bound id.
		if got, err := s.Assign([]string{"listener/web/81"}); err != nil || got["listener/web/81"] != id {
			t.Errorf("Assign after Bind = %v, %v; want %s", got, err, id)
		}
		if err := s.Bind("x", "NOTANID"); err == nil {
			t.Error("Bind accepted a malformed id")
		}
	})
}
