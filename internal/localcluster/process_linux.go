package localcluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts each server in a process group of its own, led by it, so
// Stop can signal the group by the server's PID. A detached server gets a
// session of its own too, so closing the terminal does not reach it; an
// attached one is killed by the kernel when the thread that started it dies.
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// processStartTime reads the start time (field 22 of /proc/PID/stat, in clock
// ticks since boot), which with the PID identifies a process uniquely.
func processStartTime(pid int) (uint64, error) {
	fields, err := procStatFields(pid)
	if err != nil {
		return 0, err
	}
	// fields start at field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// sameProcessAlive reports whether pid is alive, not a zombie, and (when
// startTime is known) still the process that was started then.
func sameProcessAlive(pid int, startTime uint64) bool {
	fields, err := procStatFields(pid)
	if err != nil || len(fields) < 20 {
		return false
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return false
	}
	if startTime == 0 {
		return true
	}
	return fields[19] == strconv.FormatUint(startTime, 10)
}

// procStatFields returns the fields of /proc/PID/stat after the command name,
// which may itself contain spaces and parentheses.
func procStatFields(pid int) ([]string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strings.Fields(s[i+1:]), nil
}
