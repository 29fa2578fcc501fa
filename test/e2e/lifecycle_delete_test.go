package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestLifecycleExpiryAndDeletion: an expired backup is removed from the
// cluster and the bucket by GC; `ark backup delete` removes the bucket files,
// the restores and the Backup; a delete while the backup runs is refused
// with the reason; a backup with snapshots and no persistentVolumeProvider is
// kept whole; a request for a backup only in the bucket works; transient
// object storage failures are retried, and a Config fix is picked up without
// a restart.
func TestLifecycleExpiryAndDeletion(t *testing.T) {
	t.Parallel()
	// One item per LIST page makes a backup of a few hundred configmaps last
	// long enough to be caught InProgress.
	env := harness.Start(t, harness.Options{NoServer: true, ServerArgs: append([]string{"--backup-page-size", "1"}, fastSyncArgs...)})
	ctx := context.Background()
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
	env.ApplyConfig(cfg)
	env.StartServer()
	m := env.Cluster.MinIO
	createAppNamespace(t, env, "del-app", 2)

	// Expiry.
	// Long enough that --wait and the bucket check see it Completed before GC
	// (every second here) deletes it, even on a loaded machine.
	mustBackup(t, env, "short", "--include-namespaces", "del-app", "--ttl", "15s")
	requireStoredBackup(t, env, m, "short")
	waitBackupGone(env, "short", time.Minute)
	if left := bucketObjects(t, m, env.Bucket, "short/"); len(left) != 0 {
		t.Fatalf("expired backup's files remain in the bucket: %v", sortedKeys(left))
	}
	req := waitProcessedRequest(env, "short", 30*time.Second)
	if len(req.Status.Errors) != 0 || req.Labels[arkv1.BackupNameLabel] != "short" {
		t.Fatalf("GC's deletion request: labels %v errors %v", req.Labels, req.Status.Errors)
	}
	serverLogHas(env, "backup expired: requested its deletion", 10*time.Second)

	// ark backup delete: files, restores and the Backup.
	mustBackup(t, env, "keep", "--include-namespaces", "del-app")
	if out := env.MustArk("restore", "create", "keep", "--wait"); !strings.Contains(out, "Completed") {
		t.Fatalf("restore of keep:\n%s", out)
	}
	var restores arkv1.RestoreList
	if err := env.Client.List(ctx, &restores, client.InNamespace(harness.Namespace)); err != nil || len(restores.Items) != 1 {
		t.Fatalf("want one restore of keep: %v %v", restores.Items, err)
	}
	stored := requireStoredBackup(t, env, m, "keep")
	restoreLog := "keep/restore-" + restores.Items[0].Name + "-logs.gz"
	if _, ok := stored[restoreLog]; !ok {
		t.Fatalf("bucket lacks the restore's log %s: %v", restoreLog, sortedKeys(stored))
	}
	out := env.MustArk("backup", "delete", "keep", "--confirm")
	if !strings.Contains(out, `Request to delete backup "keep" submitted`) {
		t.Fatalf("backup delete said:\n%s", out)
	}
	waitBackupGone(env, "keep", time.Minute)
	req = waitProcessedRequest(env, "keep", 30*time.Second)
	if len(req.Status.Errors) != 0 {
		t.Fatalf("deletion errors: %v", req.Status.Errors)
	}
	if left := bucketObjects(t, m, env.Bucket, "keep/"); len(left) != 0 {
		t.Fatalf("deleted backup's files remain: %v", sortedKeys(left))
	}
	if err := env.Client.List(ctx, &restores, client.InNamespace(harness.Namespace)); err != nil || len(restores.Items) != 0 {
		t.Fatalf("the backup's restores remain: %v %v", restores.Items, err)
	}

	// A delete while the backup runs is refused, with the reason; once it
	// has finished, a new request deletes it and cleans up the refused one.
	createAppNamespace(t, env, "big-app", 600)
	if out := env.MustArk("backup", "create", "big", "--include-namespaces", "big-app"); !strings.Contains(out, "submitted") {
		t.Fatal(out)
	}
	waitBackupPhase(env, "big", time.Minute, arkv1.BackupPhaseInProgress)
	env.MustArk("backup", "delete", "big", "--confirm")
	req = waitProcessedRequest(env, "big", 30*time.Second)
	if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], `backup "big" is InProgress`) ||
		!strings.Contains(req.Status.Errors[0], "cannot be deleted") || !strings.Contains(req.Status.Errors[0], "nothing was deleted") {
		t.Fatalf("deletion during the backup: %+v, want it refused with the reason", req.Status)
	}
	refused := req.Name
	big := waitBackupPhase(env, "big", 3*time.Minute, arkv1.BackupPhaseCompleted)
	if big.Status.Archive == nil || big.Status.Archive.Items < 600 {
		t.Fatalf("the refused deletion harmed the backup: %+v", big.Status)
	}
	requireStoredBackup(t, env, m, "big")
	env.MustKubectl("delete", "namespace", "big-app", "--wait=false") // keeps later backups quick
	env.MustArk("backup", "delete", "big", "--confirm")
	waitBackupGone(env, "big", time.Minute)
	env.Eventually(30*time.Second, "the refused request cleaned up", func() (bool, error) {
		reqs := deleteRequests(t, env, "big")
		return len(reqs) == 1 && reqs[0].Name != refused && reqs[0].Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed, nil
	})
	if left := bucketObjects(t, m, env.Bucket, "big/"); len(left) != 0 {
		t.Fatalf("files remain: %v", sortedKeys(left))
	}

	// Snapshots but no persistentVolumeProvider: refused, everything kept.
	mustBackup(t, env, "snap", "--include-namespaces", "del-app")
	snap, err := getBackup(env, "snap")
	if err != nil {
		t.Fatal(err)
	}
	orig := snap.DeepCopy()
	snap.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv-1": {SnapshotID: "snap-0123"}}
	if err := env.Client.Status().Patch(ctx, snap, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	before := requireStoredBackup(t, env, m, "snap")
	env.MustArk("backup", "delete", "snap", "--confirm")
	req = waitProcessedRequest(env, "snap", 30*time.Second)
	if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], "no persistentVolumeProvider") ||
		!strings.Contains(req.Status.Errors[0], "nothing was deleted") {
		t.Fatalf("deletion of a backup with snapshots and no provider: %+v", req.Status)
	}
	if snap, err = getBackup(env, "snap"); err != nil || snap.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("backup snap after a refused deletion: %v %+v", err, snap.Status.Phase)
	}
	if after := bucketObjects(t, m, env.Bucket, "snap/"); len(after) != len(before) {
		t.Fatalf("a refused deletion changed the bucket: %v -> %v", sortedKeys(before), sortedKeys(after))
	}

	// A backup only in the bucket: its Backup object deleted with kubectl
	// (promptly, bucket untouched), then a DeleteBackupRequest made with
	// kubectl, without the label.
	mustBackup(t, env, "orphan", "--include-namespaces", "del-app")
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", "orphan", "--timeout=60s")
	requireStoredBackup(t, env, m, "orphan")
	manifest := filepath.Join(t.TempDir(), "dbr.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: ark.heptio.com/v1
kind: DeleteBackupRequest
metadata:
  name: delete-orphan
  namespace: heptio-ark
spec:
  backupName: orphan
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env.MustKubectl("create", "-f", manifest)
	req = waitProcessedRequest(env, "orphan", 30*time.Second)
	if len(req.Status.Errors) != 0 || req.Labels[arkv1.BackupNameLabel] != "orphan" {
		t.Fatalf("deleting a bucket-only backup: labels %v errors %v", req.Labels, req.Status.Errors)
	}
	if left := bucketObjects(t, m, env.Bucket, "orphan/"); len(left) != 0 {
		t.Fatalf("files remain: %v", sortedKeys(left))
	}
	// The same through the CLI: `ark backup delete` of a backup the cluster
	// no longer has still asks the server to delete it from the bucket.
	mustBackup(t, env, "orphan-cli", "--include-namespaces", "del-app")
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", "orphan-cli", "--timeout=60s")
	requireStoredBackup(t, env, m, "orphan-cli")
	if out := env.MustArk("backup", "delete", "orphan-cli", "--confirm"); !strings.Contains(out, "is not in the cluster") {
		t.Fatalf("ark backup delete of a bucket-only backup:\n%s", out)
	}
	if req = waitProcessedRequest(env, "orphan-cli", 30*time.Second); len(req.Status.Errors) != 0 {
		t.Fatalf("deleting a bucket-only backup through the CLI: %v", req.Status.Errors)
	}
	if left := bucketObjects(t, m, env.Bucket, "orphan-cli/"); len(left) != 0 {
		t.Fatalf("files remain: %v", sortedKeys(left))
	}
	// A request for a backup that exists nowhere says so.
	nowhere := &arkv1.DeleteBackupRequest{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "nowhere"},
		Spec: arkv1.DeleteBackupRequestSpec{BackupName: "no-such-backup"}}
	if err := env.Client.Create(ctx, nowhere); err != nil {
		t.Fatal(err)
	}
	req = waitProcessedRequest(env, "no-such-backup", 30*time.Second)
	if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], "not found in namespace heptio-ark nor in bucket") {
		t.Fatalf("request for a missing backup: %+v", req.Status)
	}

	// Object storage unreachable: retried with backoff, and the Config fixed
	// while it retries is used without a restart.
	mustBackup(t, env, "retry", "--include-namespaces", "del-app")
	broken := harness.MinIOConfig("http://127.0.0.1:1", env.Bucket)
	broken.GCSyncPeriod = cfg.GCSyncPeriod
	loads := strings.Count(env.ServerLog(), "Config loaded")
	env.ApplyConfig(broken)
	env.Eventually(30*time.Second, "the server loading the broken Config", func() (bool, error) {
		return strings.Count(env.ServerLog(), "Config loaded") > loads, nil
	})
	env.MustArk("backup", "delete", "retry", "--confirm")
	env.Eventually(time.Minute, "the deletion retrying", func() (bool, error) {
		for _, r := range deleteRequests(t, env, "retry") {
			if r.Status.Phase == arkv1.DeleteBackupRequestPhaseInProgress && len(r.Status.Errors) > 0 &&
				strings.Contains(strings.Join(r.Status.Errors, "\n"), "retrying in") {
				return true, nil
			}
		}
		return false, nil
	})
	env.ApplyConfig(cfg)
	req = waitProcessedRequest(env, "retry", 2*time.Minute)
	if len(req.Status.Errors) != 0 {
		t.Fatalf("deletion after the Config was fixed: %v", req.Status.Errors)
	}
	waitBackupGone(env, "retry", 30*time.Second)
	if left := bucketObjects(t, m, env.Bucket, "retry/"); len(left) != 0 {
		t.Fatalf("files remain: %v", sortedKeys(left))
	}
}
