package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heptio/ark/test/e2e/harness"
)

// TestServerEndpointsAndShutdown checks /healthz, /readyz and /metrics (with
// Ark's own metrics after a backup), and that SIGTERM ends the server cleanly.
func TestServerEndpointsAndShutdown(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		env.Eventually(30*time.Second, path+" answers 200", func() (bool, error) {
			code, _, err := httpGet("http://" + env.HealthAddr + path)
			return code == http.StatusOK, err
		})
	}
	env.MustArk("backup", "create", "metered", "--include-namespaces", "default", "--wait")
	r := env.Ark("backup", "create", "invalid", "--include-resources", "no-such-things", "--wait")
	if r.Err == nil {
		t.Fatal("invalid backup succeeded")
	}
	_, body, err := httpGet("http://" + env.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ark_backups_total{phase="Completed"} 1`,
		`ark_backups_total{phase="FailedValidation"} 1`,
		"ark_backup_duration_seconds_count 1",
		"ark_backup_last_successful_timestamp_seconds",
		"controller_runtime_reconcile_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	start := time.Now()
	env.StopServer()
	if env.ServerExit != nil {
		t.Errorf("server did not exit cleanly on SIGTERM: %v", env.ServerExit)
	}
	t.Logf("server stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// TestLeaderElection runs two servers, with leader election on by default:
// only the leader acts, and when it dies the other takes over.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	env.Eventually(time.Minute, "first server leads", func() (bool, error) {
		return strings.Contains(env.ServerLog(), "successfully acquired lease"), nil
	})

	// A second server on the same cluster, started by hand.
	logPath := filepath.Join(t.TempDir(), "second.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	second := exec.Command(harness.ArkBinary(t), "server", "--kubeconfig", env.Cluster.Kubeconfig,
		"--namespace", harness.Namespace, "--metrics-address", "0", "--health-address", "0", "--log-level", "debug")
	second.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+env.CredsFile, "AWS_EC2_METADATA_DISABLED=true")
	second.Stdout, second.Stderr = logFile, logFile
	second.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Process.Kill(); _ = second.Wait(); logFile.Close() })
	secondLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	env.Eventually(30*time.Second, "second server waits for the lease", func() (bool, error) {
		return strings.Contains(secondLog(), "attempting to acquire leader lease"), nil
	})
	env.MustArk("backup", "create", "led-by-first", "--include-namespaces", "default", "--wait")
	if strings.Contains(secondLog(), "led-by-first") {
		t.Fatalf("the follower acted on a backup:\n%s", secondLog())
	}

	env.KillServer()
	env.Eventually(2*time.Minute, "second server takes the lease", func() (bool, error) {
		return strings.Contains(secondLog(), "successfully acquired lease"), nil
	})
	env.MustArk("backup", "create", "led-by-second", "--include-namespaces", "default", "--wait")
	if !strings.Contains(secondLog(), "led-by-second") {
		t.Fatalf("the new leader did not run the backup:\n%s", secondLog())
	}
}

func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
