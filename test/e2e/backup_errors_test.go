package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestBackupErrors walks through the mistakes users make, each of which must
// end in a clear message in the backup's status and the CLI. The Config is
// changed under the running server, which must pick each change up.
func TestBackupErrors(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoConfig: true})
	ctx := context.Background()

	t.Run("no Config: the backup stays New and describe says why", func(t *testing.T) {
		env.MustArk("backup", "create", "waiting")
		time.Sleep(3 * time.Second)
		b := fetchBackup(t, env, "waiting")
		if b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew {
			t.Fatalf("phase %q without a Config", b.Status.Phase)
		}
		out := env.MustArk("backup", "describe", "waiting")
		for _, want := range []string{"Phase:  New", "kubectl -n heptio-ark describe pods", "kubectl -n heptio-ark logs deployment/ark"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe lacks %q:\n%s", want, out)
			}
		}
		if log := env.ServerLog(); !strings.Contains(log, "waiting for Config") || !strings.Contains(log, "examples/") {
			t.Errorf("server log does not say it waits for its Config:\n%s", log)
		}
		// Once the Config appears the waiting backup runs.
		env.ApplyConfig(harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket))
		waitPhase(t, env, "waiting", arkv1.BackupPhaseCompleted)
	})

	t.Run("invalid spec: every problem listed", func(t *testing.T) {
		r := env.Ark("backup", "create", "invalid", "--include-namespaces", "a,b", "--exclude-namespaces", "b",
			"--include-resources", "configmaps,flux-capacitors", "--wait")
		if r.Err == nil {
			t.Fatalf("invalid backup succeeded:\n%s", r.Output())
		}
		for _, want := range []string{"failed validation", `namespace "b" is both included and excluded`, `unknown resource "flux-capacitors"`} {
			if !strings.Contains(r.Output(), want) {
				t.Errorf("output lacks %q:\n%s", want, r.Output())
			}
		}
		if b := fetchBackup(t, env, "invalid"); b.Status.Phase != arkv1.BackupPhaseFailedValidation || len(b.Status.ValidationErrors) != 2 {
			t.Errorf("status: %+v", b.Status)
		}
		r = env.Ark("backup", "create", "badselector", "--selector", "app in (a")
		if r.Err == nil || !strings.Contains(r.Stderr, "invalid --selector") {
			t.Errorf("a bad selector must be refused by the CLI:\n%s", r.Output())
		}
	})

	cases := []struct {
		name  string
		setup func() *arkv1.Config
		want  []string
	}{
		{"missing bucket", func() *arkv1.Config {
			return harness.MinIOConfig(env.Cluster.MinIO.Endpoint, "no-such-bucket")
		}, []string{"no-such-bucket"}},
		{"unreachable endpoint", func() *arkv1.Config {
			return harness.MinIOConfig("http://"+closedAddr(t), env.Bucket)
		}, []string{"127.0.0.1"}},
		{"wrong credentials", func() *arkv1.Config {
			writeFile(t, env.CredsFile, "[default]\naws_access_key_id=nobody\naws_secret_access_key=wrong\n")
			return harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
		}, []string{"cloud-credentials"}},
		{"no credentials", func() *arkv1.Config {
			if err := os.Remove(env.CredsFile); err != nil {
				t.Fatal(err)
			}
			return harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
		}, []string{"NoCredentialProviders: no valid providers in chain", "cloud-credentials", "/credentials"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env.ApplyConfig(tc.setup())
			time.Sleep(time.Second) // let the server load it
			name := fmt.Sprintf("broken-%d", i)
			start := time.Now()
			r := env.Ark("backup", "create", name, "--include-namespaces", "default", "--wait")
			if r.Err == nil {
				t.Fatalf("backup succeeded:\n%s", r.Output())
			}
			t.Logf("%s failed after %s", tc.name, time.Since(start).Round(time.Second))
			b := fetchBackup(t, env, name)
			if b.Status.Phase != arkv1.BackupPhaseFailed {
				t.Fatalf("phase %s, want Failed", b.Status.Phase)
			}
			for _, want := range tc.want {
				if !strings.Contains(b.Status.FailureReason, want) || !strings.Contains(r.Output(), want) {
					t.Errorf("failure reason and CLI output must contain %q:\nreason: %s\ncli: %s", want, b.Status.FailureReason, r.Output())
				}
			}
		})
	}

	t.Run("a server crash leaves the backup Failed, not stuck", func(t *testing.T) {
		writeFile(t, env.CredsFile, fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", env.Cluster.MinIO.AccessKey, env.Cluster.MinIO.SecretKey))
		env.ApplyConfig(harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket))
		env.EnsureNamespace("many")
		for i := 0; i < 1500; i++ {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "many", Name: fmt.Sprintf("cm-%d", i)},
				Data: map[string]string{"payload": strings.Repeat("x", 2048)}}
			if err := env.Client.Create(ctx, cm); err != nil {
				t.Fatal(err)
			}
		}
		env.MustArk("backup", "create", "crashed", "--include-namespaces", "many")
		env.Eventually(time.Minute, "backup InProgress", func() (bool, error) {
			return fetchBackup(t, env, "crashed").Status.Phase == arkv1.BackupPhaseInProgress, nil
		})
		env.KillServer()
		env.StartServer()
		b := waitPhase(t, env, "crashed", arkv1.BackupPhaseFailed)
		if !strings.Contains(b.Status.FailureReason, "server stopped while this backup was in progress") {
			t.Errorf("failure reason: %q", b.Status.FailureReason)
		}
		// The restarted server still serves downloads of earlier backups.
		if out := env.MustArk("backup", "logs", "waiting"); !strings.Contains(out, "backup finished") {
			t.Errorf("logs after restart:\n%s", out)
		}
		// And runs new backups.
		if out := env.MustArk("backup", "create", "after-crash", "--include-namespaces", "many", "--wait"); !strings.Contains(out, "Completed") {
			t.Errorf("backup after restart:\n%s", out)
		}
	})
}

func fetchBackup(t *testing.T, env *harness.Env, name string) *arkv1.Backup {
	t.Helper()
	var b arkv1.Backup
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func waitPhase(t *testing.T, env *harness.Env, name string, phase arkv1.BackupPhase) *arkv1.Backup {
	t.Helper()
	var b *arkv1.Backup
	env.Eventually(2*time.Minute, "backup "+name+" "+string(phase), func() (bool, error) {
		b = fetchBackup(t, env, name)
		return b.Status.Phase == phase, fmt.Errorf("phase %q", b.Status.Phase)
	})
	return b
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
