package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heptio/ark/test/e2e/harness"
)

// TestKubeconfigResolution checks the four ways the CLI finds (or does not
// find) its cluster, in the order the troubleshooting guide gives.
func TestKubeconfigResolution(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, NoConfig: true})
	kubeconfig, err := os.ReadFile(env.Cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.WriteFile(broken, []byte("apiVersion: v1\nkind: Config\nclusters: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("flag wins over KUBECONFIG", func(t *testing.T) {
		r := env.ArkWithEnv([]string{"KUBECONFIG=" + broken}, "--kubeconfig", env.Cluster.Kubeconfig, "backup", "get")
		if r.Err != nil {
			t.Fatalf("ark --kubeconfig: %v\n%s", r.Err, r.Output())
		}
	})
	t.Run("KUBECONFIG", func(t *testing.T) {
		r := env.ArkWithEnv([]string{"KUBECONFIG=" + env.Cluster.Kubeconfig}, "backup", "get")
		if r.Err != nil {
			t.Fatalf("ark with KUBECONFIG: %v\n%s", r.Err, r.Output())
		}
	})
	t.Run("home file", func(t *testing.T) {
		// The harness sets HOME to env.Dir.
		if err := os.MkdirAll(filepath.Join(env.Dir, ".kube"), 0o700); err != nil {
			t.Fatal(err)
		}
		home := filepath.Join(env.Dir, ".kube", "config")
		if err := os.WriteFile(home, kubeconfig, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(home)
		r := env.ArkWithEnv(nil, "backup", "get")
		if r.Err != nil {
			t.Fatalf("ark with ~/.kube/config: %v\n%s", r.Err, r.Output())
		}
	})
	t.Run("none", func(t *testing.T) {
		r := env.ArkWithEnv(nil, "backup", "get")
		if r.Err == nil {
			t.Fatalf("ark without any kubeconfig succeeded:\n%s", r.Output())
		}
		for _, want := range []string{
			"invalid configuration: no configuration has been provided",
			"--kubeconfig flag, if any",
			"$KUBECONFIG environment variable, if any",
			"~/.kube/config",
		} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("error output lacks %q:\n%s", want, r.Stderr)
			}
		}
	})
}

// TestVersion checks `ark version` prints its three facts.
func TestVersion(t *testing.T) {
	env := &harness.Env{T: t, Dir: t.TempDir()}
	r := env.ArkWithEnv(nil, "version")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, want := range []string{"Version:", "Git commit:", "Go version: go1."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ark version lacks %q:\n%s", want, r.Stdout)
		}
	}
}
