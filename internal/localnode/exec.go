package localnode

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// execWaitDelay bounds how long an exec'd command's output is still copied
// after the command exits, when something it started in the background
// keeps stdout open.
const execWaitDelay = time.Second

// exec runs cmd in a running container: its paths rewritten like the
// container's own command, in its working directory and environment. A
// non-zero exit is returned as a utilexec.ExitError, which the streaming
// server turns into the exit code kubectl reports.
func (p *podRuntime) exec(ctx context.Context, containerName string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	if len(cmd) == 0 {
		return fmt.Errorf("no command given")
	}
	c, err := p.findContainer(containerName)
	if err != nil {
		return err
	}
	p.mu.Lock()
	spec := c.launch
	p.mu.Unlock()
	argv := spec.paths.rewriteAll(cmd)
	path, err := lookPath(argv[0], spec.env)
	if err != nil {
		return err
	}
	command := exec.Command(path, argv[1:]...)
	command.Args[0] = argv[0]
	command.Env = spec.env
	command.Dir = spec.dir

	if tty {
		return p.execTTY(ctx, command, in, out, resize)
	}
	command.SysProcAttr = processAttrs()
	if out != nil {
		command.Stdout = out
	}
	if errOut != nil {
		command.Stderr = errOut
	}
	command.WaitDelay = execWaitDelay
	var stdin io.WriteCloser
	if in != nil {
		if stdin, err = command.StdinPipe(); err != nil {
			return err
		}
	}
	if err := p.startExec(command); err != nil {
		return err
	}
	if stdin != nil {
		// Not waited for: a client that never closes stdin must not keep
		// the exec open after the command ended.
		go func() {
			_, _ = io.Copy(stdin, in)
			stdin.Close()
		}()
	}
	return p.waitExec(ctx, command)
}

func (p *podRuntime) execTTY(ctx context.Context, command *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	// A session of its own with the terminal as its controlling tty; its
	// process group is led by it, as for other commands.
	command.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return fmt.Errorf("pod %s/%s is stopping", p.pod.Namespace, p.pod.Name)
	}
	term, err := pty.StartWithAttrs(command, nil, command.SysProcAttr)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.execs[command.Process.Pid] = struct{}{}
	p.mu.Unlock()
	defer term.Close()
	if resize != nil {
		go func() {
			for size := range resize {
				_ = pty.Setsize(term, &pty.Winsize{Rows: size.Height, Cols: size.Width})
			}
		}()
	}
	if in != nil {
		go func() { _, _ = io.Copy(term, in) }()
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if out != nil {
			_, _ = io.Copy(out, term)
		} else {
			_, _ = io.Copy(io.Discard, term)
		}
	}()
	err = p.waitExec(ctx, command)
	// The terminal reads EIO once the last process holding it is gone.
	select {
	case <-copied:
	case <-time.After(execWaitDelay):
	}
	return err
}

func (p *podRuntime) startExec(command *exec.Cmd) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return fmt.Errorf("pod %s/%s is stopping", p.pod.Namespace, p.pod.Name)
	}
	if err := command.Start(); err != nil {
		return err
	}
	p.execs[command.Process.Pid] = struct{}{}
	return nil
}

// waitExec waits for an exec'd command; when the client goes away first,
// its process group is killed.
func (p *podRuntime) waitExec(ctx context.Context, command *exec.Cmd) error {
	pid := command.Process.Pid
	stop := context.AfterFunc(ctx, func() { _ = killGroup(pid, syscall.SIGKILL) })
	err := command.Wait()
	stop()
	p.mu.Lock()
	delete(p.execs, pid)
	p.mu.Unlock()
	if err == nil {
		return nil
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code, _ := exitCode(ee)
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
	}
	if err == exec.ErrWaitDelay {
		// The command exited with 0; a child of it held the output open.
		return nil
	}
	return err
}
