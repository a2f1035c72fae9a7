//go:build !linux

package servicetest

import "os/exec"

// setProcAttr does nothing where the kernel cannot tie a child's life to
// its parent's; the test's cleanup kills the child.
func setProcAttr(*exec.Cmd) {}
