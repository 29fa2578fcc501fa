package conformance

import (
	"context"
	"fmt"
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

// binaryFromEnv returns the path in env var name, skipping the test when it
// is unset and failing it when it names nothing.
func binaryFromEnv(t *testing.T, name, what string) string {
	t.Helper()
	p := os.Getenv(name)
	if p == "" {
		t.Skipf("%s is not set, so the %s conformance run is skipped: run `make test`, or see the package doc of internal/objectstore/conformance", name, what)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v (build or install it: hack/build-testbin.sh for MinIO, hack/install-emulators.sh for the emulators)", name, p, err)
	}
	return p
}

// freePort asks the kernel for a free loopback port. The small window
// between closing it here and the server binding it is acceptable in tests.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is an emulator process this test started.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	once    sync.Once
}

// startServer runs bin with args, waits until ready answers true, and
// registers a cleanup that stops it by PID. Its output goes to a log file
// that is printed if the test fails.
func startServer(t *testing.T, name, bin string, args, env []string, ready func() bool) *server {
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
		t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	s := &server{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s log (%s):\n%s", name, logPath, tail(out, 4000))
			}
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case <-s.exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before it was ready: %s\n%s", name, cmd.ProcessState, tail(out, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("%s not ready after 60s\n%s", name, tail(out, 4000))
		}
	}
	return s
}

// Stop kills the process by its PID and waits for it; safe to call twice.
func (s *server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// httpReady returns a probe that is ready once url answers with a status
// accepted by ok.
func httpReady(url string, ok func(status int) bool) func() bool {
	client := &http.Client{Timeout: 2 * time.Second}
	return func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return ok(resp.StatusCode)
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
