//go:build !linux

package etcdtest

import "os/exec"

// setParentDeath does nothing here: the members are killed by the test's
// cleanup, but not if the test process itself is killed.
func setParentDeath(*exec.Cmd) {}
