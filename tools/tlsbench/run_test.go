package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestUsageOfCountsTimeAndSwitches checks usageOf on a real process tree: a
// shell whose child burns CPU and then sleeps. Its user time grows while
// the child runs, and its threads' switches grow with each sleep.
func TestUsageOfCountsTimeAndSwitches(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	// The child spins for about 0.3 s of CPU, then sleeps a second at a time.
	cmd := exec.Command("sh", "-c", `sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; while :; do sleep 1; done'`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	start := usageOf(cmd.Process.Pid)
	deadline := time.Now().Add(30 * time.Second)
	for {
		u := usageOf(cmd.Process.Pid).minus(start)
		if u.user > 0 && u.switches > 0 {
			if u.sys < 0 {
				t.Fatalf("system time went backwards: %+v", u)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the child's usage is %+v: want user time and switches counted", u)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
