//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child into its own process group, so that the
// terminal's Ctrl-C reaches devrun alone, which then stops the children in
// order, gateway first.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stopWithParent is Linux-only; elsewhere make's own signal handling has
// to reach devrun.
func stopWithParent() {}
