//go:build !linux

package localcluster

import (
	"errors"
	"syscall"
)

func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}

func processStartTime(pid int) (uint64, error) { return 0, nil }

// sameProcessAlive cannot tell a reused PID apart without /proc; it only
// checks that some process has the PID.
func sameProcessAlive(pid int, _ uint64) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
