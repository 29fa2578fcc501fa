package localcluster

import (
	"context"
	"strings"
	"testing"

	"github.com/heptio/ark/internal/testproc"
)

// StartForTest starts a cluster for t and stops it when t ends. The binaries
// come from the test-binary cache ($ARK_TESTBIN_DIR, else ~/.cache/ark-testbin)
// unless opts.Binaries names them. When they are missing, a -short run skips
// the test and any other fails it with the command that builds them. When t
// fails, the end of every server's log is printed.
func StartForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Binaries == (Binaries{}) {
		opts.Binaries = TestBinaries(t)
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

// TestBinaries returns the cluster's binaries from the test-binary cache, or
// ends the test as StartForTest says.
func TestBinaries(t testing.TB) Binaries {
	t.Helper()
	root := testproc.CacheDir()
	bins, err := Testbin(root)
	if err != nil {
		if testing.Short() {
			t.Skipf("the local cluster's binaries are not built (-short): %v", err)
		}
		t.Fatalf("%v: run hack/build-testbin.sh (or `make test`, which builds everything)", err)
	}
	return bins
}

// testLog sends progress lines to t.Log; Cluster.logf calls t.Logf on it
// directly so that lines carry a useful source location.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
