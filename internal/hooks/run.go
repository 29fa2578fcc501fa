package hooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// PodExecutor runs a command in a container of a pod, streaming its output,
// and returns when the command ends: nil when it exited 0. Cancelling ctx
// must end the exec; internal/podexec is the one that goes through the API
// server's pods/exec.
type PodExecutor interface {
	Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error
}

// Runner runs hooks and logs each one with its output.
type Runner struct {
	// Executor runs the commands; nil fails every hook, saying so.
	Executor PodExecutor
	// Log receives a line when a hook starts and one when it ends, with
	// the start of its stdout and stderr.
	Log *slog.Logger
	// MaxOutput bounds what is kept of each of stdout and stderr; 0 means
	// DefaultMaxOutput.
	MaxOutput int
}

// Failure is a hook that failed: it names the hook, the pod and the
// container, and says why, with the end of the hook's stderr.
type Failure struct {
	Phase     string
	Hook      Exec
	Pod       Pod
	Container string
	Err       error
	// Stderr is the end of what the hook wrote to stderr.
	Stderr string
}

func (f *Failure) Error() string {
	where := fmt.Sprintf("pod %s", f.Pod)
	if f.Container != "" {
		where = fmt.Sprintf("container %q of pod %s", f.Container, f.Pod)
	}
	msg := fmt.Sprintf("%s hook (%s) in %s failed: %v", f.Phase, f.Hook.Source, where, f.Err)
	if f.Stderr != "" {
		msg += fmt.Sprintf(" (stderr: %q)", f.Stderr)
	}
	return msg
}

func (f *Failure) Unwrap() error { return f.Err }

// stderrInMessage bounds the stderr quoted in a failure's message; the log
// has more.
const stderrInMessage = 300

// Run runs hook h in pod p, bounded by h.Timeout, and logs it. phase ("pre",
// "post", "restore exec") is for the log and the messages. A failure is
// returned as a *Failure; what it means is the caller's decision (h.OnError).
func (r *Runner) Run(ctx context.Context, phase string, p Pod, h Exec) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fail := func(container string, err error) error {
		f := &Failure{Phase: phase, Hook: h, Pod: p, Container: container, Err: err}
		log.Warn("hook failed", "phase", phase, "hook", h.Source, "pod", p.String(), "container", container,
			"onError", string(h.OnError), "error", err.Error())
		return f
	}
	if h.Err != nil {
		return fail(h.Container, h.Err)
	}
	container, err := p.container(h.Container)
	if err != nil {
		return fail(h.Container, err)
	}
	if r.Executor == nil {
		return fail(container, errors.New("this Ark server cannot exec into pods (no pod executor is configured)"))
	}
	timeout := durationOr(h.Timeout, DefaultTimeout)
	log.Info("running hook", "phase", phase, "hook", h.Source, "pod", p.String(), "container", container,
		"command", h.Command, "timeout", timeout.String())

	limit := r.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	stdout, stderr := newBoundedBuffer(limit), newBoundedBuffer(limit)
	execCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err = r.Executor.Exec(execCtx, p.Namespace, p.Name, container, h.Command, stdout, stderr)
	took := time.Since(start).Round(time.Millisecond)
	if err == nil {
		log.Info("hook succeeded", "phase", phase, "hook", h.Source, "pod", p.String(), "container", container,
			"took", took.String(), "stdout", stdout.String(), "stderr", stderr.String())
		return nil
	}
	if execCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("did not finish within its timeout of %s, so its exec was closed", timeout)
	}
	f := &Failure{Phase: phase, Hook: h, Pod: p, Container: container, Err: err, Stderr: strings.TrimSpace(stderr.tail(stderrInMessage))}
	log.Warn("hook failed", "phase", phase, "hook", h.Source, "pod", p.String(), "container", container,
		"onError", string(h.OnError), "took", took.String(), "error", err.Error(),
		"stdout", stdout.String(), "stderr", stderr.String())
	return f
}
