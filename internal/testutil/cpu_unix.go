//go:build unix

package testutil

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the user plus system CPU time this process has used so far,
// for benchmarks that report CPU per operation (every goroutine's, the
// background ones included, which a wall-clock ns/op hides).
func ProcessCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
