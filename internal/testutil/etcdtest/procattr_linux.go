package etcdtest

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the member die with the test process, whatever way
// that ends.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
