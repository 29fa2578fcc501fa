package testproc

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill the server if the test binary dies
// without running its cleanups (a `go test -timeout` panic, a SIGKILL).
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
