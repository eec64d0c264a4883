package state

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func openStore(t *testing.T, dir string) *Bolt {
	t.Helper()
	b, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b
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
	ctx := context.Background()
	dir := t.TempDir()
	b := openStore(t, dir)
	var s Store = b
	rev, err := s.Commit(ctx, 0, []Op{Put("lb/1", []byte("a")), Put("lb/2", []byte("b")), Put("tg/1", []byte("c"))})
	if err != nil || rev != 1 {
		t.Fatalf("first commit: rev %d, %v", rev, err)
	}
	rev, err = s.Commit(ctx, AnyRevision, []Op{Delete("lb/1"), Put("lb/3", []byte("d"))})
	if err != nil || rev != 2 {
		t.Fatalf("second commit: rev %d, %v", rev, err)
	}
	got, rev := load(t, s, "lb/")
	if rev != 2 || len(got) != 2 || got["lb/2"] != "b" || got["lb/3"] != "d" {
		t.Fatalf("Load(lb/) = %v at %d", got, rev)
	}
	// The id registry shares the file.
	ids, err := b.IDs().Assign([]string{"loadbalancer/web"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openStore(t, dir)
	defer b.Close()
	got, rev = load(t, b, "")
	if rev != 2 || len(got) != 3 || got["tg/1"] != "c" {
		t.Fatalf("after reopen: %v at %d", got, rev)
	}
	if id, ok, _ := b.IDs().Lookup("loadbalancer/web"); !ok || id != ids["loadbalancer/web"] {
		t.Errorf("id after reopen = %q, want %q", id, ids["loadbalancer/web"])
	}
}

func TestStoreCommitConflictAndAllOrNothing(t *testing.T) {
	ctx := context.Background()
	b := openStore(t, t.TempDir())
	defer b.Close()
	if _, err := b.Commit(ctx, 0, []Op{Put("a", []byte("1"))}); err != nil {
		t.Fatal(err)
	}
	// A writer that read revision 0 lost the race.
	_, err := b.Commit(ctx, 0, []Op{Put("a", []byte("2"))})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	// A bad op anywhere in the list stores nothing.
	if _, err := b.Commit(ctx, AnyRevision, []Op{Put("b", []byte("x")), Put("", []byte("y"))}); err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Fatalf("commit with an empty key: %v", err)
	}
	big := strings.Repeat("k", 40000)
	if _, err := b.Commit(ctx, AnyRevision, []Op{Put("b", []byte("x")), Put(big, []byte("y"))}); err == nil {
		t.Fatal("commit with an oversized key succeeded")
	}
	got, rev := load(t, b, "")
	if rev != 1 || len(got) != 1 || got["a"] != "1" {
		t.Fatalf("after failed commits: %v at %d, want only a=1 at 1", got, rev)
	}
}

func TestStoreWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := openStore(t, t.TempDir())
	defer b.Close()
	if _, err := b.Commit(ctx, AnyRevision, []Op{Put("before", nil)}); err != nil {
		t.Fatal(err)
	}
	rev, events, err := b.Watch(ctx)
	if err != nil || rev != 1 {
		t.Fatalf("Watch: %d, %v", rev, err)
	}
	// Many commits without reading: Commit never blocks on a slow watcher.
	for i := range 50 {
		if _, err := b.Commit(ctx, AnyRevision, []Op{Put("k", []byte{byte(i)}), Delete("before")}); err != nil {
			t.Fatal(err)
		}
	}
	for want := int64(2); want <= 51; want++ {
		select {
		case ev := <-events:
			if ev.Revision != want || len(ev.Ops) != 2 || ev.Ops[0].Value[0] != byte(want-2) || !ev.Ops[1].Delete {
				t.Fatalf("event %+v, want revision %d", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for revision %d", want)
		}
	}
	cancel()
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch channel not closed after cancel")
	}
}

func TestStoreClosed(t *testing.T) {
	b := openStore(t, t.TempDir())
	_, events, err := b.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
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
	if _, err := b.Commit(context.Background(), AnyRevision, []Op{Put("a", nil)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
}

func TestBind(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
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
	// Binding a key that had another id frees that id.
	if err := s.Bind("listener/web/81", id); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup("listener/web/8080"); ok {
		t.Error("key whose id was taken still has it")
	}
	if err := s.Bind("x", "NOTANID"); err == nil {
		t.Error("Bind accepted a malformed id")
	}
}
