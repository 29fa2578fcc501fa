package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The emulators of the gcp and azure end-to-end tests, found the way the
// conformance suite finds them: `make test` sets these variables from
// hack/install-emulators.sh. By hand:
//
//	eval "$(hack/install-emulators.sh)"; export ARK_FAKE_GCS_SERVER ARK_AZURITE
//	ARK_TESTBIN_DIR=$HOME/.cache/ark-testbin go test -count=1 -run 'TestProvider' ./test/e2e/
const (
	providerFakeGCSEnv = "ARK_FAKE_GCS_SERVER"
	providerAzuriteEnv = "ARK_AZURITE"
)

// providerEmulatorBinary returns the path in the env var name: the test is
// skipped when it is unset and fails when it names nothing.
func providerEmulatorBinary(t *testing.T, name, what string) string {
	t.Helper()
	p := os.Getenv(name)
	if p == "" {
		t.Skipf("%s is not set, so the end-to-end run on %s is skipped: run `make test`, or eval \"$(hack/install-emulators.sh)\" and export %s", name, what, name)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v (install it with hack/install-emulators.sh)", name, p, err)
	}
	return p
}

// providerFreePort asks the kernel for a free loopback port; the window
// between closing it here and the emulator binding it is acceptable in tests.
func providerFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func providerHostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// providerProcess is an emulator this test started.
type providerProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// providerStartProcess runs bin, waits until ready holds, and stops it by
// PID in t.Cleanup. Its output goes to a file printed when the test fails.
func providerStartProcess(t *testing.T, name, bin string, args []string, ready func() bool) *providerProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills the emulator if the test binary dies without running
	// its cleanups (a -timeout panic, a SIGKILL).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s (%s): %v", name, bin, err)
	}
	p := &providerProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", name, logPath, providerTail(logPath, 4000))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready (%s):\n%s", name, cmd.ProcessState, providerTail(logPath, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute:\n%s", name, providerTail(logPath, 4000))
		}
	}
	return p
}

// Stop kills the process by its PID and waits for it; safe to call twice.
func (p *providerProcess) Stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
}

func providerTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// providerHTTPReady is ready once url answers with a status ok accepts.
func providerHTTPReady(url string, ok func(status int) bool) func() bool {
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
