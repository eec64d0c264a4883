package state

import (
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func openT(t *testing.T, dir string) *IDs {
	t.Helper()
	s, err := OpenIDs(dir)
	if err != nil {
		t.Fatalf("OpenIDs: %v", err)
	}
	return s
}

func TestAssignStableAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	keys := []string{"loadbalancer/web", "targetgroup/app", "listener/web/8080", "rule/web/8080/default"}

	s := openT(t, dir)
	first, err := s.Assign(keys)
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
	if again, err := s.Assign(keys[:2]); err != nil || again[keys[0]] != first[keys[0]] || again[keys[1]] != first[keys[1]] {
		t.Errorf("second Assign in the same process: %v, %v; want the first ids", again, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("data dir mode %v, want no group/other access", perm)
	}

	s = openT(t, dir)
	defer s.Close()
	// Reversed order plus a new key: old keys keep their ids, the new key gets a
	// new one.
	after, err := s.Assign([]string{"targetgroup/other", keys[3], keys[2], keys[1], keys[0]})
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
	if id, ok, err := s.Lookup(keys[0]); err != nil || !ok || id != first[keys[0]] {
		t.Errorf("Lookup = %q, %v, %v; want %q", id, ok, err, first[keys[0]])
	}
	if _, ok, err := s.Lookup("loadbalancer/none"); err != nil || ok {
		t.Errorf("Lookup of an unknown key: ok=%v err=%v", ok, err)
	}
}

func TestAssignManyDistinct(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	var keys []string
	for i := range 2000 {
		keys = append(keys, "targetgroup/tg-"+strconv.Itoa(i))
	}
	ids, err := s.Assign(keys)
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
}

// TestAssignAllOrNothing fails an Assign after it has stored ids for earlier keys
// in the same call, and checks that none of them survived.
func TestAssignAllOrNothing(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	old, err := s.Assign([]string{"loadbalancer/old"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("bad key", func(t *testing.T) {
		if _, err := s.Assign([]string{"loadbalancer/a", "loadbalancer/old", ""}); err == nil || !strings.Contains(err.Error(), "empty key") {
			t.Fatalf("Assign with an empty key: err = %v", err)
		}
		if _, ok, _ := s.Lookup("loadbalancer/a"); ok {
			t.Error("id of loadbalancer/a was stored by a failed Assign")
		}
	})

	t.Run("random source fails", func(t *testing.T) {
		// Enough bytes for one id, then an error.
		s.rand = io.MultiReader(strings.NewReader("01234567"), errReader{})
		defer func() { s.rand = rand.Reader }()
		if _, err := s.Assign([]string{"loadbalancer/b", "loadbalancer/c"}); err == nil {
			t.Fatal("Assign succeeded with a failing random source")
		}
		for _, k := range []string{"loadbalancer/b", "loadbalancer/c"} {
			if _, ok, _ := s.Lookup(k); ok {
				t.Errorf("id of %s was stored by a failed Assign", k)
			}
		}
	})

	if id, ok, _ := s.Lookup("loadbalancer/old"); !ok || id != old["loadbalancer/old"] {
		t.Errorf("existing id changed by failed Assigns: %q", id)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// TestFreshIDAvoidsCollision makes the random source repeat an id in use.
func TestFreshIDAvoidsCollision(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	s.rand = strings.NewReader("\x00\x00\x00\x00\x00\x00\x00\x01" + "\x00\x00\x00\x00\x00\x00\x00\x01" + "\x00\x00\x00\x00\x00\x00\x00\x02")
	ids, err := s.Assign([]string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ids["a"] != "0000000000000001" || ids["b"] != "0000000000000002" {
		t.Errorf("ids = %v; want b to skip the id already given to a", ids)
	}
}

func TestRelease(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	first, err := s.Assign([]string{"loadbalancer/web", "targetgroup/app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release([]string{"loadbalancer/web", "loadbalancer/never"}); err != nil {
		t.Fatal(err)
	}
	again, err := s.Assign([]string{"loadbalancer/web", "targetgroup/app"})
	if err != nil {
		t.Fatal(err)
	}
	if again["loadbalancer/web"] == first["loadbalancer/web"] {
		t.Error("a released key got its old id back")
	}
	if again["targetgroup/app"] != first["targetgroup/app"] {
		t.Error("an unreleased key lost its id")
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	start := time.Now()
	s2, err := OpenIDs(dir)
	if err == nil {
		s2.Close()
		t.Fatal("second OpenIDs of the same data dir succeeded")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("error does not wrap ErrInUse: %v", err)
	}
	if want := "data dir " + dir + " is in use by another albatross"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Errorf("second open gave up after %v, want about 1s", d)
	}
	// Once the first closes, the directory can be opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openT(t, dir)
	s3.Close()
}

func TestOpenErrors(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenIDs(f); err == nil || !strings.Contains(err.Error(), "create data dir") {
		t.Errorf("OpenIDs on a regular file: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"50dc6c495c0c9188":  true,
		"50DC6C495C0C9188":  false,
		"50dc6c495c0c918":   false,
		"50dc6c495c0c9188a": false,
		"50dc6c495c0c918g":  false,
	} {
		if ValidID(s) != want {
			t.Errorf("ValidID(%q) = %v", s, !want)
		}
	}
}

func TestARNs(t *testing.T) {
	const r, a = "us-west-2", "123456789012"
	for _, c := range []struct{ got, want string }{
		{LoadBalancerARN(r, a, "my-load-balancer", "50dc6c495c0c9188"),
			"arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/my-load-balancer/50dc6c495c0c9188"},
		{TargetGroupARN(r, a, "my-targets", "73e2d6bc24d8a067"),
			"arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"},
		{ListenerARN(r, a, "my-load-balancer", "50dc6c495c0c9188", "f2f7dc8efc522ab2"),
			"arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/my-load-balancer/50dc6c495c0c9188/f2f7dc8efc522ab2"},
		{RuleARN(r, a, "my-load-balancer", "50dc6c495c0c9188", "f2f7dc8efc522ab2", "9683b2d02a6cabee"),
			"arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/my-load-balancer/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"},
		{LoadBalancerResourceID("web", "50dc6c495c0c9188"), "app/web/50dc6c495c0c9188"},
		{TargetGroupResourceID("app", "73e2d6bc24d8a067"), "targetgroup/app/73e2d6bc24d8a067"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}
