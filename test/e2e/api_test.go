package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestAPIRoundTrip creates, reads and updates the status of every kind
// through a real API server with the generated CRDs, and checks that the
// structural schemas reject what they should.
func TestAPIRoundTrip(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, NoConfig: true})
	ctx := context.Background()
	ns := harness.Namespace
	yes := true
	now := metav1.NewTime(time.Now().Truncate(time.Second))

	objects := []struct {
		obj    client.Object
		status func(client.Object)
		check  func(client.Object) bool
	}{
		{
			obj: &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "b"}, Spec: arkv1.BackupSpec{
				IncludedNamespaces: []string{"a"}, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
				SnapshotVolumes: &yes, TTL: metav1.Duration{Duration: time.Hour}}},
			status: func(o client.Object) {
				b := o.(*arkv1.Backup)
				b.Status = arkv1.BackupStatus{Phase: arkv1.BackupPhasePartiallyFailed, Version: 1, StartTimestamp: &now,
					Progress: &arkv1.BackupProgress{TotalItems: 3, ItemsBackedUp: 2}, Errors: 1, FailureReason: "",
					Archive:       &arkv1.ArchiveInfo{SHA256: "abc", Size: 10},
					VolumeBackups: map[string]*arkv1.VolumeBackupInfo{"pv1": {SnapshotID: "snap-1", AvailabilityZone: "z"}}}
			},
			check: func(o client.Object) bool {
				b := o.(*arkv1.Backup)
				return b.Status.Phase == arkv1.BackupPhasePartiallyFailed && b.Status.Progress.ItemsBackedUp == 2 &&
					b.Status.VolumeBackups["pv1"].SnapshotID == "snap-1" && b.Spec.TTL.Duration == time.Hour
			},
		},
		{
			obj: &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r"}, Spec: arkv1.RestoreSpec{
				BackupName: "b", NamespaceMapping: map[string]string{"a": "b"}}},
			status: func(o client.Object) {
				o.(*arkv1.Restore).Status = arkv1.RestoreStatus{Phase: arkv1.RestorePhaseCompleted, Warnings: 2,
					Progress: &arkv1.RestoreProgress{ItemsRestored: 5, TotalItems: 5}}
			},
			check: func(o client.Object) bool {
				r := o.(*arkv1.Restore)
				return r.Status.Warnings == 2 && r.Status.Progress.ItemsRestored == 5 && r.Spec.NamespaceMapping["a"] == "b"
			},
		},
		{
			obj: &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"}, Spec: arkv1.ScheduleSpec{
				Schedule: "0 */6 * * *", Template: arkv1.BackupSpec{IncludedNamespaces: []string{"*"}}}},
			status: func(o client.Object) {
				o.(*arkv1.Schedule).Status = arkv1.ScheduleStatus{Phase: arkv1.SchedulePhaseEnabled, LastBackup: &now}
			},
			check: func(o client.Object) bool {
				s := o.(*arkv1.Schedule)
				return s.Status.Phase == arkv1.SchedulePhaseEnabled && s.Status.LastBackup.Equal(&now)
			},
		},
		{
			obj: &arkv1.DownloadRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "d"}, Spec: arkv1.DownloadRequestSpec{
				Target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "b"}}},
			status: func(o client.Object) {
				o.(*arkv1.DownloadRequest).Status = arkv1.DownloadRequestStatus{Phase: arkv1.DownloadRequestPhaseProcessed, DownloadURL: "http://x", Expiration: &now}
			},
			check: func(o client.Object) bool { return o.(*arkv1.DownloadRequest).Status.DownloadURL == "http://x" },
		},
		{
			obj: &arkv1.DeleteBackupRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "del"}, Spec: arkv1.DeleteBackupRequestSpec{BackupName: "b"}},
			status: func(o client.Object) {
				o.(*arkv1.DeleteBackupRequest).Status = arkv1.DeleteBackupRequestStatus{Phase: arkv1.DeleteBackupRequestPhaseProcessed, Errors: []string{"e"}}
			},
			check: func(o client.Object) bool { return len(o.(*arkv1.DeleteBackupRequest).Status.Errors) == 1 },
		},
	}
	for _, tc := range objects {
		if err := env.Client.Create(ctx, tc.obj); err != nil {
			t.Fatalf("create %T: %v", tc.obj, err)
		}
		orig := tc.obj.DeepCopyObject().(client.Object)
		tc.status(tc.obj)
		if err := env.Client.Status().Patch(ctx, tc.obj, client.MergeFrom(orig)); err != nil {
			t.Fatalf("patch status of %T: %v", tc.obj, err)
		}
		got := tc.obj.DeepCopyObject().(client.Object)
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(tc.obj), got); err != nil {
			t.Fatal(err)
		}
		if !tc.check(got) {
			t.Errorf("%T did not round-trip: %+v", got, got)
		}
	}

	// Config has no status subresource and keeps its fields at the top level.
	cfg := harness.MinIOConfig("http://127.0.0.1:1", "bucket")
	cfg.RestoreOnlyMode = true
	cfg.ResourcePriorities = []string{"namespaces", "secrets"}
	if err := env.Client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	var gotCfg arkv1.Config
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cfg), &gotCfg); err != nil {
		t.Fatal(err)
	}
	if !gotCfg.RestoreOnlyMode || gotCfg.BackupStorageProvider.Bucket != "bucket" || len(gotCfg.ResourcePriorities) != 2 {
		t.Errorf("Config did not round-trip: %+v", gotCfg)
	}

	// The schema rejects an unknown phase.
	bad := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"}}
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	orig := bad.DeepCopy()
	bad.Status.Phase = "Bogus"
	if err := env.Client.Status().Patch(ctx, bad, client.MergeFrom(orig)); err == nil {
		t.Error("the API accepted phase Bogus")
	}

	// kubectl shows the printer columns.
	out := env.MustKubectl("-n", ns, "get", "backups")
	for _, col := range []string{"PHASE", "ITEMS", "ERRORS", "EXPIRES", "AGE", "PartiallyFailed"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get backups lacks %q:\n%s", col, out)
		}
	}
}
