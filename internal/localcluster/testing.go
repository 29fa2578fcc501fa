package localcluster

import (
	"context"
	"os"
	"strings"
	"testing"
)

// StartForTest starts a cluster for t and stops it when t ends. The binaries
// come from $ARK_TESTBIN_DIR (set by `make test`) unless opts.Binaries names
// them. Without the variable the test is skipped; with it but a binary
// missing, the test fails. When t fails, the end of every server's log is
// printed.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Binaries == (Binaries{}) {
		root := os.Getenv(TestbinEnv)
		if root == "" {
			t.Skipf("%s is unset: run `make test`, or ARK_TESTBIN_DIR=$(hack/build-testbin.sh) go test ...", TestbinEnv)
		}
		bins, err := Testbin(root)
		if err != nil {
			t.Fatalf("%s=%s: %v", TestbinEnv, root, err)
		}
		opts.Binaries = bins
	}
	if opts.Dir == "" {
		// Removed by the testing package after Stop, which runs first.
		opts.Dir = t.TempDir()
	}
	if opts.Log == nil {
		opts.Log = testLog{t}
	}
	c, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start local cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the local cluster:\n%s", c.LogTails(50))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop local cluster: %v", err)
		}
	})
	return c
}

// testLog sends progress lines to t.Log; Cluster.logf calls t.Logf on it
// directly so that lines carry a useful source location.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
