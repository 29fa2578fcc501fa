package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// process is one server the cluster runs. It is either a child started by this
// process (exited is closed when it ends) or one recorded in the state file by
// an earlier `up` (exited is nil), which is found again by PID and start time.
type process struct {
	Name      string `json:"name"`
	Binary    string `json:"binary"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // kernel start time; guards against PID reuse
	Log       string `json:"log"`

	exited  chan struct{}
	waitErr error
}

// launch starts binary with args in its own process group, its stdout and
// stderr appended to logPath. With detach the child outlives this process;
// otherwise the kernel kills it if this process dies without calling Stop
// (a test binary killed by -timeout, for example).
func launch(name, binary string, args, env []string, logPath string, detach bool) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	fmt.Fprintf(logFile, "=== %s: %s %s\n", time.Now().Format(time.RFC3339), binary, strings.Join(args, " "))

	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(detach)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, binary, err)
	}
	p := &process{Name: name, Binary: binary, PID: cmd.Process.Pid, Log: logPath, exited: make(chan struct{})}
	p.StartTime, _ = processStartTime(p.PID)
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process is still the one that was started.
func (p *process) running() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	return sameProcessAlive(p.PID, p.StartTime)
}

// exitDescription says how a child ended, for error messages.
func (p *process) exitDescription() string {
	if p.exited == nil {
		return "exited"
	}
	if p.waitErr != nil {
		return "exited: " + p.waitErr.Error()
	}
	return "exited with status 0"
}

// signalGroup signals the process group the process leads. The group reaches
// anything the server forked too.
func (p *process) signalGroup(sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	err := syscall.Kill(-p.PID, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// waitGone waits until the process has ended, at most d.
func (p *process) waitGone(d time.Duration) bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return true
		case <-time.After(d):
			return false
		}
	}
	deadline := time.Now().Add(d)
	for p.running() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// logTail returns the last lines of the process's log.
func (p *process) logTail(lines int) string {
	return tailFile(p.Log, lines)
}

func tailFile(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	// Logs of a long-running apiserver grow large; only the end matters.
	const maxTail = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxTail {
		_, _ = f.Seek(fi.Size()-maxTail, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	data = bytes.TrimRight(data, "\n")
	all := strings.Split(string(data), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
