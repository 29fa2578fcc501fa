package localnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heptio/ark/internal/localnode/containerlog"
)

// placeholderCommand stands in for an image's own entrypoint, which the node
// cannot run: a container with neither command nor args gets an idle
// process, so the pod runs and can be exec'd into.
var placeholderCommand = []string{"sleep", "2147483647"}

// launchSpec is what starting one container's process needs, resolved from
// the pod spec each time it starts.
type launchSpec struct {
	argv        []string
	env         []string
	dir         string
	paths       pathMap
	placeholder bool
}

// container is the state of one container of a running pod. Its fields are
// guarded by the pod's mutex.
type container struct {
	spec corev1.Container
	init bool
	dir  string // its own directory: working directory and HOME
	logs string // directory of its log files, one per start

	waitingReason, waitingMessage string
	running                       bool
	pid                           int
	exited                        chan struct{} // closed when the current process ends
	startedAt                     time.Time
	terminated                    *corev1.ContainerStateTerminated
	lastTerminated                *corev1.ContainerStateTerminated
	restartCount                  int32
	starts                        int // processes started by this node, for log file names
	launch                        *launchSpec
}

func (c *container) id(uid string) string {
	return fmt.Sprintf("localnode://%s-%s-%d", uid, c.spec.Name, c.starts)
}

// logPath is the file of the current start, or of the one before it.
func (c *container) logPath(previous bool) (string, bool) {
	n := c.starts
	if previous {
		n--
	}
	if n < 1 {
		return "", false
	}
	return filepath.Join(c.logs, strconv.Itoa(n)+".log"), true
}

// process is a started container process.
type process struct {
	cmd  *exec.Cmd
	wait sync.WaitGroup // the copies of its output into the log
	log  *containerlog.File
	err  error // from cmd.Wait
}

// startProcess starts spec's command with its output going to logPath. The
// process leads a new process group.
func startProcess(spec *launchSpec, logPath string) (*process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	path, err := lookPath(spec.argv[0], spec.env)
	if err != nil {
		return nil, err
	}
	logFile, err := containerlog.Create(logPath)
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		logFile.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.Command(path, spec.argv[1:]...)
	cmd.Args[0] = spec.argv[0]
	cmd.Env = spec.env
	cmd.Dir = spec.dir
	// Files, not writers: the child writes straight into the pipes, and
	// the copies below run until the last holder (a child it forked too)
	// closes them, not just until the process exits.
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = processAttrs()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return nil, err
	}
	outW.Close()
	errW.Close()
	p := &process{cmd: cmd, log: logFile}
	p.wait.Add(2)
	go func() { defer p.wait.Done(); defer outR.Close(); _ = logFile.Copy(containerlog.Stdout, outR) }()
	go func() { defer p.wait.Done(); defer errR.Close(); _ = logFile.Copy(containerlog.Stderr, errR) }()
	return p, nil
}

// finish waits for the process and then for its output to be in the log. A
// child that keeps the pipes open keeps writing to the log after this
// returns; the log file closes when it is done.
func (p *process) finish() {
	p.err = p.cmd.Wait()
	go func() {
		p.wait.Wait()
		p.log.Close()
	}()
	// Give the copies a moment, so the log holds the last lines when the
	// status says the container ended.
	done := make(chan struct{})
	go func() { p.wait.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func terminatedState(code int32, reason, message string, started, finished time.Time, id string) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode:    code,
		Reason:      reason,
		Message:     message,
		StartedAt:   apiTime(started),
		FinishedAt:  apiTime(finished),
		ContainerID: id,
	}
}
