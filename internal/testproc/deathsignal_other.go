//go:build !linux

package testproc

import "os/exec"

// dieWithTest has no portable equivalent outside Linux; cleanups still stop
// the servers on every normal exit.
func dieWithTest(*exec.Cmd) {}
