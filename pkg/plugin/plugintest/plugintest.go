// Package plugintest is the test kit of Ark plugins: it builds a plugin
// binary and runs it through the real protocol, exactly as the Ark server
// does (plugin.Client), so a plugin's tests exercise what the server will.
//
//	func TestMyStore(t *testing.T) {
//		bin := plugintest.Build(t, ".", ".")
//		client := plugintest.Start(t, bin, plugin.HostOptions{})
//		store, err := client.ObjectStore(context.Background(), "example.com/mystore", map[string]string{"root": t.TempDir()})
//		...
//		plugintest.CheckObjectStore(t, store, "bucket")
//	}
package plugintest

import (
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/heptio/ark/pkg/plugin"
)

// Build compiles the main package pkg (as `go build` takes it, relative to
// the module directory dir) into a temporary directory and returns the
// binary's path.
func Build(t testing.TB, dir, pkg string) string {
	t.Helper()
	name := filepath.Base(pkg)
	if name == "." || name == string(filepath.Separator) {
		abs, _ := filepath.Abs(dir)
		name = filepath.Base(abs)
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s in %s: %v\n%s", pkg, dir, err, b)
	}
	return out
}

// Start returns a Client for the plugin binary at path, with its output in
// the test's log. The process starts at the first call and is stopped when
// the test ends.
func Start(t testing.TB, path string, opts plugin.HostOptions) *plugin.Client {
	t.Helper()
	w := &testWriter{t: t}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := plugin.NewClient(path, opts)
	t.Cleanup(func() {
		c.Close()
		w.stop()
	})
	return c
}

// testWriter logs to the test until it ends (a plugin may still write
// while it is being stopped).
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
