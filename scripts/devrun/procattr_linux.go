//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child into its own process group, so that the
// terminal's Ctrl-C reaches devrun alone, which then stops the children in
// order, gateway first. Pdeathsig makes the kernel send SIGTERM to the
// child if devrun itself is killed, instead of leaving it to hold the
// ports.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// stopWithParent asks the kernel for SIGTERM when devrun's parent (make)
// dies, so that a SIGTERM to `make run` stops the stack too.
func stopWithParent() {
	// Best effort: without it a killed make leaves the stack to Ctrl-C.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
}
