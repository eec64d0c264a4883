package state

import (
	"errors"
	"os"
	"path/filepath"
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

// TestDataDirMode: the data directory OpenIDs creates is private.
func TestDataDirMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	s := openT(t, dir)
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
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

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
