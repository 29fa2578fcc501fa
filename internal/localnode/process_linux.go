package localnode

import "syscall"

// processAttrs puts a container's process in a group of its own, so that
// stopping it reaches whatever it forked, and has the kernel kill it if the
// node dies without stopping it.
func processAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
