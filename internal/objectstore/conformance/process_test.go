package conformance

import (
	"fmt"
	"testing"

	"github.com/heptio/ark/internal/testproc"
)

func freePort(t *testing.T) int { return testproc.FreePort(t) }

func hostPort(port int) string { return testproc.HostPort(port) }

// server is an emulator process this test started.
type server = testproc.Process

func startServer(t *testing.T, name, bin string, args, env []string, ready func() bool) *server {
	t.Helper()
	return testproc.Start(t, name, bin, args, env, ready)
}

func httpReady(url string, ok func(status int) bool) func() bool { return testproc.HTTPReady(url, ok) }

func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
