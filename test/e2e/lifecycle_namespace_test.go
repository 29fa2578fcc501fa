package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// legacyRecoveryCommand is the troubleshooting guide's command, verbatim,
// that removes Heptio Ark v0.7's finalizer from every backup.
const legacyRecoveryCommand = `bash <(kubectl -n heptio-ark get backup -o json | jq -c -r $'.items[] | "kubectl -n heptio-ark patch backup/" + .metadata.name + " -p \'" + (({metadata: {finalizers: ( (.metadata.finalizers // []) - ["gc.ark.heptio.com"]), resourceVersion: .metadata.resourceVersion}}) | tostring) + "\' --type=merge"')`

// namespaceDeletionBound is how long deleting the heptio-ark namespace may
// take: it only bounds a hang (Heptio Ark v0.7's backups hung forever).
const namespaceDeletionBound = 2 * time.Minute

// TestLifecycleNamespaceDeletionAndSync: deleting a Backup with kubectl, or
// the whole heptio-ark namespace with three backups in it, finishes promptly
// and keeps the bucket; after reinstalling, backup sync brings the three
// Backup objects back, unchanged and not run again. A Backup stuck with the
// legacy gc.ark.heptio.com finalizer is released by the documented jq
// command and by the server.
func TestLifecycleNamespaceDeletionAndSync(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, ServerArgs: fastSyncArgs})
	ctx := context.Background()
	m := env.Cluster.MinIO
	cfg := harness.MinIOConfig(m.Endpoint, env.Bucket)
	cfg.BackupSyncPeriod = metav1.Duration{Duration: 2 * time.Second}
	env.ApplyConfig(cfg)
	env.StartServer()
	createAppNamespace(t, env, "ns-app", 3)

	names := []string{"first", "second", "third"}
	stored := map[string]map[string]string{}
	for _, n := range names {
		mustBackup(t, env, n, "--include-namespaces", "ns-app")
		stored[n] = requireStoredBackup(t, env, m, n)
	}
	firstStatus := waitBackupPhase(env, "first", time.Second, arkv1.BackupPhaseCompleted).Status

	// kubectl delete backup: prompt, and the bucket keeps the backup, which
	// sync brings back as it was.
	start := time.Now()
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", "first", "--timeout=60s")
	t.Logf("kubectl delete backup took %s", time.Since(start).Round(time.Millisecond))
	requireBucketUnchanged(t, env, m, stored)
	back := waitBackupPhase(env, "first", time.Minute, arkv1.BackupPhaseCompleted)
	if back.Status.Archive == nil || *back.Status.Archive != *firstStatus.Archive || !back.Status.CompletionTimestamp.Equal(firstStatus.CompletionTimestamp) {
		t.Fatalf("synced backup's status %+v differs from the original %+v", back.Status, firstStatus)
	}
	serverLogHas(env, "backup sync created Backup objects from object storage", 10*time.Second)

	// A Backup carrying the legacy finalizer, deleted while the server runs:
	// the server releases it.
	stuck := legacyBackup(t, env, "legacy-live")
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", stuck.Name, "--timeout=60s")

	// The whole namespace, with the server running beside it.
	start = time.Now()
	r := env.Kubectl("delete", "namespace", harness.Namespace, "--timeout="+namespaceDeletionBound.String())
	if r.Err != nil {
		t.Fatalf("kubectl delete namespace %s: %v\n%s", harness.Namespace, r.Err, r.Output())
	}
	env.Eventually(namespaceDeletionBound, "namespace heptio-ark gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: harness.Namespace}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})
	t.Logf("deleting namespace %s with %d backups took %s", harness.Namespace, len(names), time.Since(start).Round(time.Millisecond))
	requireBucketUnchanged(t, env, m, stored)

	// Reinstall: namespace, Config, server (the CRDs stayed).
	env.StopServer()
	env.EnsureNamespace(harness.Namespace)
	cfg = harness.MinIOConfig(m.Endpoint, env.Bucket)
	cfg.BackupSyncPeriod = metav1.Duration{Duration: 2 * time.Second}
	env.ApplyConfig(cfg)
	env.StartServer()
	for _, n := range names {
		b := waitBackupPhase(env, n, time.Minute, arkv1.BackupPhaseCompleted)
		if b.Status.Archive == nil {
			t.Fatalf("synced backup %s has no archive in its status: %+v", n, b.Status)
		}
	}
	if out := env.MustArk("backup", "get"); !strings.Contains(out, "first") || !strings.Contains(out, "third") {
		t.Fatalf("ark backup get after the reinstall:\n%s", out)
	}
	// Several sync periods later nothing was run again or changed.
	time.Sleep(3 * cfg.BackupSyncPeriod.Duration)
	requireBucketUnchanged(t, env, m, stored)
	for _, n := range names {
		if b, err := getBackup(env, n); err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
			t.Fatalf("backup %s after sync: %v phase %q", n, err, b.Status.Phase)
		}
	}

	// With the server stopped, a Backup with the legacy finalizer hangs in
	// Terminating, as in Heptio Ark v0.7; the documented command frees it.
	env.StopServer()
	stuck = legacyBackup(t, env, "legacy-stuck")
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", stuck.Name, "--wait=false")
	if b, err := getBackup(env, stuck.Name); err != nil || b.DeletionTimestamp.IsZero() {
		t.Fatalf("legacy backup should be stuck terminating: %v %+v", err, b.ObjectMeta)
	}
	runRecoveryCommand(t, env)
	waitBackupGone(env, stuck.Name, 30*time.Second)
	// The command patched every backup; the others are unharmed.
	for _, n := range names {
		if _, err := getBackup(env, n); err != nil {
			t.Fatalf("backup %s after the recovery command: %v", n, err)
		}
	}

	// And the server frees one it finds on start-up.
	stuck = legacyBackup(t, env, "legacy-at-start")
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", stuck.Name, "--wait=false")
	env.StartServer()
	waitBackupGone(env, stuck.Name, 30*time.Second)
	requireBucketUnchanged(t, env, m, stored)
}

// legacyBackup creates a finished Backup carrying gc.ark.heptio.com, as
// Heptio Ark v0.7 left them.
func legacyBackup(t *testing.T, env *harness.Env, name string) *arkv1.Backup {
	t.Helper()
	ctx := context.Background()
	// kubectl, not the test's client: the API server warns that the legacy
	// finalizer is not domain-qualified, which kubectl just prints.
	manifest := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: ark.heptio.com/v1
kind: Backup
metadata:
  name: `+name+`
  namespace: heptio-ark
  finalizers: ["gc.ark.heptio.com"]
spec:
  includedNamespaces: ["ns-app"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env.MustKubectl("create", "-f", manifest)
	b, err := getBackup(env, name)
	if err != nil {
		t.Fatal(err)
	}
	orig := b.DeepCopy()
	b.Status.Phase = arkv1.BackupPhaseCompleted
	if err := env.Client.Status().Patch(ctx, b, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	return b
}

// runRecoveryCommand runs the troubleshooting guide's command through bash,
// with the cluster's kubectl on PATH.
func runRecoveryCommand(t *testing.T, env *harness.Env) {
	t.Helper()
	bins := localcluster.TestBinaries(t)
	if _, err := exec.LookPath("jq"); err != nil {
		t.Fatalf("the recovery command needs jq: install it (apt-get install jq): %v", err)
	}
	cmd := exec.Command("bash", "-c", legacyRecoveryCommand)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bins.Kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+env.Cluster.Kubeconfig)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("recovery command: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "backup.ark.heptio.com/legacy-stuck patched") {
		t.Fatalf("recovery command did not patch the stuck backup:\n%s", out.String())
	}
	t.Logf("recovery command output:\n%s", out.String())
}

// requireBucketUnchanged fails unless every backup's objects are still in
// the bucket with the same ETags (so none was deleted or written again).
func requireBucketUnchanged(t *testing.T, env *harness.Env, m *localcluster.MinIO, want map[string]map[string]string) {
	t.Helper()
	for name, objs := range want {
		got := bucketObjects(t, m, env.Bucket, name+"/")
		for k, etag := range objs {
			if got[k] != etag {
				t.Fatalf("bucket object %s changed or vanished (ETag %q, was %q): the bucket must keep backups as they were", k, got[k], etag)
			}
		}
	}
}
