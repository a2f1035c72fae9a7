package servicetest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a started program when the test
// process dies, so that an interrupted run leaves no servers behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
