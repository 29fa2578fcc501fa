package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestLifecycleDisasterRecovery: a second, fresh cluster pointed at the
// first one's bucket, in restore-only mode, lists the backups (sync, at
// start-up), restores one completely, and serves downloads, while it refuses
// backups and deletions with the reason, leaves schedules alone and
// garbage-collects nothing, not even an expired backup.
func TestLifecycleDisasterRecovery(t *testing.T) {
	t.Parallel()
	first := harness.Start(t, harness.Options{})
	ctx := context.Background()
	createAppNamespace(t, first, "dr-app", 5)
	mustBackup(t, first, "dr-full", "--include-namespaces", "dr-app")
	mustBackup(t, first, "dr-expired", "--include-namespaces", "dr-app", "--ttl", "1s")
	m := first.Cluster.MinIO
	stored := map[string]map[string]string{
		"dr-full":    requireStoredBackup(t, first, m, "dr-full"),
		"dr-expired": requireStoredBackup(t, first, m, "dr-expired"),
	}
	var origCM corev1.ConfigMap
	if err := first.Client.Get(ctx, client.ObjectKey{Namespace: "dr-app", Name: "cm-0003"}, &origCM); err != nil {
		t.Fatal(err)
	}
	first.StopServer() // the first cluster is gone, as far as Ark is concerned

	second := harness.Start(t, harness.Options{MinIO: m, NoConfig: true, NoServer: true, ServerArgs: fastSyncArgs})
	cfg := harness.MinIOConfig(m.Endpoint, second.Bucket)
	cfg.RestoreOnlyMode = true
	cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
	cfg.BackupSyncPeriod = metav1.Duration{Duration: time.Second}
	second.ApplyConfig(cfg)
	second.StartServer()

	for _, n := range []string{"dr-full", "dr-expired"} {
		waitBackupPhase(second, n, time.Minute, arkv1.BackupPhaseCompleted)
	}
	if out := second.MustArk("backup", "get"); !strings.Contains(out, "dr-full") || !strings.Contains(out, "dr-expired") || !strings.Contains(out, "Completed") {
		t.Fatalf("ark backup get on the new cluster:\n%s", out)
	}

	// Restore-only mode: a backup is refused with the reason.
	r := second.Ark("backup", "create", "not-now", "--wait")
	if r.Err == nil || !strings.Contains(r.Output(), "restore-only mode") || !strings.Contains(r.Output(), "FailedValidation") {
		t.Fatalf("backup in restore-only mode: err %v\n%s", r.Err, r.Output())
	}
	refused := waitBackupPhase(second, "not-now", time.Second, arkv1.BackupPhaseFailedValidation)
	if len(refused.Status.ValidationErrors) != 1 || !strings.Contains(refused.Status.ValidationErrors[0], "restoreOnlyMode") {
		t.Fatalf("validation errors %v", refused.Status.ValidationErrors)
	}
	// Deletions too: the borrowed bucket is left as it is.
	second.MustArk("backup", "delete", "dr-full", "--confirm")
	req := waitProcessedRequest(second, "dr-full", 30*time.Second)
	if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], "restore-only mode") || !strings.Contains(req.Status.Errors[0], "nothing was deleted") {
		t.Fatalf("deletion in restore-only mode: %+v", req.Status)
	}
	// Schedules are left alone, and the log says why.
	second.MustArk("schedule", "create", "often", "--schedule", "@every 1s")
	serverLogHas(second, "schedules are left alone", 30*time.Second)
	serverLogHas(second, "expired backups are kept", 30*time.Second)

	// The restore, complete.
	out := second.MustArk("restore", "create", "dr-full", "--wait")
	if !strings.Contains(out, "Completed") {
		t.Fatalf("restore on the new cluster:\n%s", out)
	}
	var cms corev1.ConfigMapList
	if err := second.Client.List(ctx, &cms, client.InNamespace("dr-app"), client.MatchingLabels{"app": "dr-app"}); err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != 5 {
		t.Fatalf("restored %d labelled configmaps, want 5", len(cms.Items))
	}
	var cm corev1.ConfigMap
	if err := second.Client.Get(ctx, client.ObjectKey{Namespace: "dr-app", Name: "cm-0003"}, &cm); err != nil || cm.Data["index"] != origCM.Data["index"] {
		t.Fatalf("restored configmap: %v %v", err, cm.Data)
	}
	var secret corev1.Secret
	if err := second.Client.Get(ctx, client.ObjectKey{Namespace: "dr-app", Name: "creds"}, &secret); err != nil || string(secret.Data["password"]) != "hunter2" {
		t.Fatalf("restored secret: %v", err)
	}
	if err := second.Client.Get(ctx, client.ObjectKey{Namespace: "dr-app", Name: "web"}, &corev1.Service{}); err != nil {
		t.Fatalf("restored service: %v", err)
	}
	// Downloads work in restore-only mode.
	if logs := second.MustArk("backup", "logs", "dr-full"); !strings.Contains(logs, "backup finished") {
		t.Fatalf("backup logs on the new cluster:\n%s", logs)
	}

	// Many GC and schedule periods later: the expired backup is still there,
	// nobody asked for its deletion, the schedule made nothing, and the
	// bucket is as the first cluster left it.
	time.Sleep(5 * time.Second)
	if b, err := getBackup(second, "dr-expired"); err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("expired backup in restore-only mode: %v %+v", err, b.Status.Phase)
	}
	if reqs := deleteRequests(t, second, "dr-expired"); len(reqs) != 0 {
		t.Fatalf("restore-only mode requested deletions: %+v", reqs)
	}
	var s arkv1.Schedule
	if err := second.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "often"}, &s); err != nil || s.Status.Phase != "" {
		t.Fatalf("schedule in restore-only mode: %v %+v", err, s.Status)
	}
	if times, _ := scheduledBackups(t, second, "often"); len(times) != 0 {
		t.Fatalf("restore-only mode ran a schedule: %v", times)
	}
	requireBucketUnchanged(t, second, m, stored)
}
