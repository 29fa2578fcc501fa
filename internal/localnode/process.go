package localnode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// lookPath finds a command in the PATH of the container's environment, not
// the node's: a container that sets PATH gets its own search.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH (%s): the local node runs the host's commands, install it on this machine", name, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("exec: %q: %w", p, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("exec: %q: permission denied (not an executable file)", p)
	}
	return nil
}

// killGroup signals the process group led by pid; a group already gone is
// not an error.
func killGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// exitCode turns the result of Wait into an exit code the way container
// runtimes report it: 128+N for death by signal N.
func exitCode(err error) (int32, string) {
	if err == nil {
		return 0, "Completed"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return int32(128 + int(ws.Signal())), "Error"
		}
		return int32(ee.ExitCode()), "Error"
	}
	return 128, "Error"
}

// stopProcesses sends SIGTERM to each group, waits until all have exited or
// grace has passed, then SIGKILLs what is left and waits for it. Once hurry
// is closed, grace is cut to at most short.
func stopProcesses(pids []int, exited func() bool, grace time.Duration, hurry <-chan struct{}, short time.Duration) {
	for _, pid := range pids {
		_ = killGroup(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for !exited() && time.Now().Before(deadline) {
		select {
		case <-hurry:
			if d := time.Now().Add(short); d.Before(deadline) {
				deadline = d
			}
			hurry = nil
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range pids {
		// The group may still hold children of a process that exited.
		_ = killGroup(pid, syscall.SIGKILL)
	}
	for !exited() {
		time.Sleep(20 * time.Millisecond)
	}
}
