//go:build !linux

package localnode

import "syscall"

// processAttrs: outside Linux there is no parent-death signal; a node that
// dies without stopping its pods leaves their processes running.
func processAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
