package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestSnapshotOptions covers what surrounds the snapshot example, on one
// cluster with the local snapshotter: snapshot failures, backups with
// --snapshot-volumes=false, restores with --restore-volumes=false, and a
// server without a persistentVolumeProvider facing a backup with snapshots.
// The subtests run in order; each has its own namespace and volumes.
func TestSnapshotOptions(t *testing.T) {
	t.Parallel()
	env, volumeRoot := snapshotEnv(t)
	ctx := context.Background()
	volumes := t.TempDir()

	t.Run("a snapshot failure makes the backup PartiallyFailed with the reason", func(t *testing.T) {
		good := filepath.Join(volumes, "fail-good")
		if err := os.MkdirAll(good, 0o755); err != nil {
			t.Fatal(err)
		}
		snapshotWriteFile(t, filepath.Join(good, "data"), "kept")
		gone := filepath.Join(volumes, "fail-gone") // never created: the disk is gone
		notDir := filepath.Join(volumes, "fail-file")
		snapshotWriteFile(t, notDir, "a file, not a directory")
		snapshotVolumeAndClaim(t, env, "snap-fail", "good", "snap-fail-good", good)
		snapshotVolumeAndClaim(t, env, "snap-fail", "gone", "snap-fail-gone", gone)
		snapshotVolumeAndClaim(t, env, "snap-fail", "file", "snap-fail-file", notDir)

		r := env.Ark("backup", "create", "snap-fail", "--selector", "app=snap-fail", "--wait")
		if r.Err == nil || !strings.Contains(r.Output(), "Backup snap-fail: PartiallyFailed") {
			t.Fatalf("backup create: err %v, want a PartiallyFailed backup and a failing exit:\n%s", r.Err, r.Output())
		}
		b := snapshotBackup(t, env, "snap-fail")
		if b.Status.Phase != arkv1.BackupPhasePartiallyFailed || b.Status.Errors != 2 {
			t.Fatalf("phase %s with %d errors, want PartiallyFailed with 2: %+v", b.Status.Phase, b.Status.Errors, b.Status.Problems)
		}
		wantProblems := map[string][]string{
			"snap-fail-gone": {"snapshotting the volume failed", gone, "the directory does not exist on this machine"},
			"snap-fail-file": {"snapshotting the volume failed", notDir, "is not a directory"},
		}
		for _, p := range b.Status.Problems {
			wants, ok := wantProblems[p.Name]
			if !ok || p.Severity != "error" || p.Resource != "persistentvolumes" {
				t.Errorf("unexpected problem %+v", p)
				continue
			}
			for _, w := range wants {
				if !strings.Contains(p.Message, w) {
					t.Errorf("problem of %s lacks %q: %s", p.Name, w, p.Message)
				}
			}
			delete(wantProblems, p.Name)
		}
		if len(wantProblems) > 0 {
			t.Errorf("no problem recorded for %v: %+v", snapshotSortedKeys(wantProblems), b.Status.Problems)
		}
		// The healthy volume is snapshotted all the same, and every PV
		// object is in the archive.
		if len(b.Status.VolumeBackups) != 1 || b.Status.VolumeBackups["snap-fail-good"] == nil {
			t.Errorf("volumeBackups %v, want snap-fail-good only", b.Status.VolumeBackups)
		}
		if n := b.Status.ResourceCounts["persistentvolumes"]; n != 3 {
			t.Errorf("%d PVs in the archive, want 3", n)
		}
		out := env.MustArk("backup", "describe", "snap-fail")
		snapshotRequireOutput(t, "backup describe", out, "Phase:  PartiallyFailed", "Errors:    2",
			"error: persistentvolumes snap-fail-gone: snapshotting the volume failed: ",
			"the local provider only works when the Ark server runs on the host of the volume",
			"error: persistentvolumes snap-fail-file: snapshotting the volume failed: ",
			"snap-fail-good:", "Snapshot ID:        "+b.Status.VolumeBackups["snap-fail-good"].SnapshotID)
	})

	t.Run("--snapshot-volumes=false takes no snapshot", func(t *testing.T) {
		dir := filepath.Join(volumes, "off")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		snapshotWriteFile(t, filepath.Join(dir, "data"), "not snapshotted")
		snapshotVolumeAndClaim(t, env, "snap-off", "data", "snap-off-pv", dir)
		before := snapshotObjects(t, env)

		out := env.MustArk("backup", "create", "snap-off", "--selector", "app=snap-off", "--snapshot-volumes=false", "--wait")
		snapshotRequireOutput(t, "backup create", out, "Backup snap-off: Completed")
		b := snapshotBackup(t, env, "snap-off")
		if b.Spec.SnapshotVolumes == nil || *b.Spec.SnapshotVolumes || len(b.Status.VolumeBackups) != 0 {
			t.Errorf("spec.snapshotVolumes %v, status.volumeBackups %v: want false and none", b.Spec.SnapshotVolumes, b.Status.VolumeBackups)
		}
		if n := b.Status.ResourceCounts["persistentvolumes"]; n != 1 {
			t.Errorf("%d PVs in the archive, want the PV object all the same", n)
		}
		if after := snapshotObjects(t, env); !slices.Equal(after, before) {
			t.Errorf("snapshot objects changed from %v to %v", before, after)
		}
		out = env.MustArk("backup", "describe", "snap-off")
		snapshotRequireOutput(t, "backup describe", out, "Snapshot PVs:    false",
			"Volume snapshots:  <none> (snapshots were turned off with --snapshot-volumes=false)")
	})

	t.Run("--restore-volumes=false restores the PV object only", func(t *testing.T) {
		dir := filepath.Join(volumes, "objonly")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		snapshotWriteFile(t, filepath.Join(dir, "data"), "still here")
		snapshotVolumeAndClaim(t, env, "snap-objonly", "data", "snap-objonly-pv", dir)
		out := env.MustArk("backup", "create", "snap-objonly", "--selector", "app=snap-objonly", "--wait")
		snapshotRequireOutput(t, "backup create", out, "Backup snap-objonly: Completed")
		if b := snapshotBackup(t, env, "snap-objonly"); len(b.Status.VolumeBackups) != 1 {
			t.Fatalf("volumeBackups %v, want the snapshot of snap-objonly-pv", b.Status.VolumeBackups)
		}
		// The PV and claim go; the directory stays, as a disk whose
		// reclaim policy is Retain would.
		snapshotDisaster(t, env, "snap-objonly", "snap-objonly-pv")
		rootBefore := snapshotDirEntries(t, volumeRoot)

		out = env.MustArk("restore", "create", "snap-objonly-objects", "--from-backup", "snap-objonly", "--restore-volumes=false", "--wait")
		snapshotRequireOutput(t, "restore create", out, "Restore snap-objonly-objects: Completed")
		if rs := snapshotRestore(t, env, "snap-objonly-objects"); rs.Spec.RestorePVs == nil || *rs.Spec.RestorePVs {
			t.Errorf("restore spec.restorePVs = %v, want false", rs.Spec.RestorePVs)
		}
		_, pv := snapshotWaitBound(t, env, "snap-objonly", "data", "snap-objonly-pv")
		if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != dir {
			t.Errorf("restored PV source %+v, want the original hostPath %s", pv.Spec.PersistentVolumeSource, dir)
		}
		if after := snapshotDirEntries(t, volumeRoot); !slices.Equal(after, rootBefore) {
			t.Errorf("volumeRoot went from %v to %v: a volume was created from the snapshot", rootBefore, after)
		}
	})

	t.Run("a PV that still exists gets no volume made from its snapshot", func(t *testing.T) {
		dir := filepath.Join(volumes, "keep")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		snapshotWriteFile(t, filepath.Join(dir, "data"), "live data")
		snapshotVolumeAndClaim(t, env, "snap-keep", "data", "snap-keep-pv", dir)
		out := env.MustArk("backup", "create", "snap-keep", "--selector", "app=snap-keep", "--wait")
		snapshotRequireOutput(t, "backup create", out, "Backup snap-keep: Completed")
		// Only the namespace goes: the Retain volume stays, Released.
		env.MustKubectl("delete", "namespaces", "snap-keep", "--wait=true", "--timeout=120s")
		rootBefore := snapshotDirEntries(t, volumeRoot)

		out = env.MustArk("restore", "create", "snap-keep-restore", "--from-backup", "snap-keep", "--wait")
		snapshotRequireOutput(t, "restore create", out, "Restore snap-keep-restore: Completed")
		var pv corev1.PersistentVolume
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "snap-keep-pv"}, &pv); err != nil {
			t.Fatal(err)
		}
		if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != dir {
			t.Errorf("the existing PV was changed: %+v", pv.Spec.PersistentVolumeSource)
		}
		if after := snapshotDirEntries(t, volumeRoot); !slices.Equal(after, rootBefore) {
			t.Errorf("volumeRoot went from %v to %v: a volume nobody uses was created", rootBefore, after)
		}
		results := snapshotRestoreResults(t, env, "snap-keep", "snap-keep-restore")
		if w := strings.Join(results["warnings"].Cluster, "\n"); !strings.Contains(w, "snap-keep-pv already exists") {
			t.Errorf("restore warnings lack the existing PV: %+v", results["warnings"])
		}
		snapshotRequireOutput(t, "server log", env.ServerLog(), "persistent volume still exists: not creating a volume from its snapshot")
	})

	t.Run("without a provider, a backup with snapshots needs --restore-volumes=false", func(t *testing.T) {
		snapshotDisaster(t, env, "snap-objonly", "snap-objonly-pv")
		env.ApplyConfig(harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket))
		snapshotWaitServerLog(t, env, "persistentVolumeProvider=<none>")

		for _, tc := range []struct{ name, setting string }{
			{"snap-noprov-default", "restorePVs is unset, which means true for a backup with snapshots,"},
			{"snap-noprov-true", "restorePVs is true"},
		} {
			args := []string{"restore", "create", tc.name, "--from-backup", "snap-objonly", "--wait"}
			if tc.name == "snap-noprov-true" {
				args = append(args, "--restore-volumes")
			}
			r := env.Ark(args...)
			if r.Err == nil {
				t.Fatalf("ark %s succeeded:\n%s", strings.Join(args, " "), r.Output())
			}
			rs := snapshotRestore(t, env, tc.name)
			if rs.Status.Phase != arkv1.RestorePhaseFailedValidation || len(rs.Status.ValidationErrors) != 1 {
				t.Fatalf("restore %s: phase %s, validation errors %v", tc.name, rs.Status.Phase, rs.Status.ValidationErrors)
			}
			msg := rs.Status.ValidationErrors[0]
			for _, w := range []string{`backup "snap-objonly" has 1 volume snapshot(s)`, tc.setting,
				"the Config names no persistentVolumeProvider", "--restore-volumes=false"} {
				if !strings.Contains(msg, w) {
					t.Errorf("validation error of %s lacks %q: %s", tc.name, w, msg)
				}
			}
			snapshotRequireOutput(t, "restore create", r.Output(), "FailedValidation", "--restore-volumes=false")
		}
		err := env.Client.Get(ctx, client.ObjectKey{Name: "snap-objonly"}, &corev1.Namespace{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("a restore that failed validation created namespace snap-objonly: %v", err)
		}

		// Snapshotting without a provider is refused up front too.
		r := env.Ark("backup", "create", "snap-noprov", "--selector", "app=snap-objonly", "--snapshot-volumes", "--wait")
		if r.Err == nil || snapshotBackup(t, env, "snap-noprov").Status.Phase != arkv1.BackupPhaseFailedValidation {
			t.Errorf("backup with --snapshot-volumes and no provider: %v\n%s", r.Err, r.Output())
		}
		snapshotRequireOutput(t, "backup create", r.Output(), "no persistentVolumeProvider", "--snapshot-volumes=false")

		out := env.MustArk("restore", "create", "snap-noprov-objects", "--from-backup", "snap-objonly", "--restore-volumes=false", "--wait")
		snapshotRequireOutput(t, "restore create", out, "Restore snap-noprov-objects: Completed")
		_, pv := snapshotWaitBound(t, env, "snap-objonly", "data", "snap-objonly-pv")
		if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != filepath.Join(volumes, "objonly") {
			t.Errorf("restored PV source %+v, want the original hostPath", pv.Spec.PersistentVolumeSource)
		}
	})
}
