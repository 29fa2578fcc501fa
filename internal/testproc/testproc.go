// Package testproc starts the external servers tests run against (storage
// emulators, MinIO): on free loopback ports, logged to a file printed when
// the test fails, and stopped by PID whatever happens.
package testproc

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FreePort asks the kernel for a free loopback port. The small window between
// closing it here and the server binding it is acceptable in tests.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// HostPort is the loopback address of port.
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Process is a server a test started.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start runs bin with args (and env added to this process's environment),
// waits until ready answers true, and stops it by PID in t.Cleanup.
func Start(t testing.TB, name, bin string, args, env []string, ready func() bool) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s (%s): %v", name, bin, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, logPath, tail(logPath, 4000))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready (%s):\n%s", name, cmd.ProcessState, tail(logPath, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute:\n%s", name, tail(logPath, 4000))
		}
	}
	return p
}

// Stop kills the process by its PID and waits for it; safe to call twice.
func (p *Process) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// HTTPReady is a readiness probe: ready once url answers with a status ok
// accepts.
func HTTPReady(url string, ok func(status int) bool) func() bool {
	c := &http.Client{Timeout: 2 * time.Second}
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return ok(resp.StatusCode)
	}
}
