//go:build !linux

package e2e

import "os/exec"

// setProcAttr does nothing where there is no parent-death signal; the
// tests' cleanups still stop every program they start.
func setProcAttr(*exec.Cmd) {}
