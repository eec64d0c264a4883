package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCacheKeepsTheNewest: of several states saved in a burst, the file holds
// the last once Close returns, and a missing cache is os.ErrNotExist.
func TestCacheKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), CacheFile)
	c := OpenCache(path, nil)
	if _, err := c.Load(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of no cache: %v, want os.ErrNotExist", err)
	}
	for rev := int64(1); rev <= 50; rev++ {
		c.Save(&Cached{Prefix: "/p", Revision: rev, SavedAt: time.Unix(rev, 0), KVs: []KV{{Key: "k", Value: []byte{byte(rev)}}}})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := OpenCache(path, nil).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 50 || got.Prefix != "/p" || len(got.KVs) != 1 || got.KVs[0].Value[0] != 50 {
		t.Errorf("cache after a burst: %+v, want revision 50", got)
	}
	if matches, _ := filepath.Glob(path + ".tmp-*"); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// unavailableIDs is a registry that cannot be reached.
type unavailableIDs struct{ calls int }

func (u *unavailableIDs) Assign([]string) (map[string]string, error) {
	u.calls++
	return nil, ErrUnavailable
}
func (u *unavailableIDs) Lookup(string) (string, bool, error) {
	u.calls++
	return "", false, ErrUnavailable
}
func (u *unavailableIDs) Bind(string, string) error { u.calls++; return ErrUnavailable }
func (u *unavailableIDs) Release([]string) error    { u.calls++; return ErrUnavailable }

// TestFallbackIDs: with the registry unreachable, known ids are answered and
// nothing is invented; offline, the registry is not asked at all.
func TestFallbackIDs(t *testing.T) {
	inner := &unavailableIDs{}
	f := NewFallbackIDs(inner)
	f.Learn(map[string]string{"lb/web": "0123456789abcdef"})
	if ids, err := f.Assign([]string{"lb/web"}); err != nil || ids["lb/web"] != "0123456789abcdef" {
		t.Errorf("Assign of a known key: %v %v", ids, err)
	}
	if _, err := f.Assign([]string{"lb/web", "lb/new"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Assign of an unknown key: %v, want ErrUnavailable", err)
	}
	if err := f.Bind("lb/web", "0123456789abcdef"); err != nil {
		t.Errorf("Bind to the known id: %v", err)
	}
	if err := f.Bind("lb/web", "fedcba9876543210"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Bind to another id: %v, want ErrUnavailable", err)
	}
	if err := f.Release([]string{"lb/web"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Release: %v", err)
	}
	f.SetOffline(true)
	before := inner.calls
	if id, ok, err := f.Lookup("lb/web"); err != nil || !ok || id != "0123456789abcdef" {
		t.Errorf("offline Lookup: %q %v %v", id, ok, err)
	}
	f.Assign([]string{"lb/web"})
	f.Bind("lb/web", "0123456789abcdef")
	if inner.calls != before {
		t.Errorf("offline, the registry was asked %d times", inner.calls-before)
	}
}
