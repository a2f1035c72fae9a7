//go:build !unix

package main

import "os/exec"

// setProcAttr does nothing here: without process groups the children see
// the terminal's Ctrl-C themselves and stop on their own.
func setProcAttr(*exec.Cmd) {}

// stopWithParent does nothing here.
func stopWithParent() {}
