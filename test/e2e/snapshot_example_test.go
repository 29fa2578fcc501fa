package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

var snapshotRestoreNamePattern = regexp.MustCompile(`Restore request "([^"]+)" submitted`)

// TestSnapshotExample runs the docs' "Snapshot example (With PVs)" with the
// local snapshotter: the nginx app of examples/nginx-app/with-pv.yaml whose
// claim is bound to a hostPath volume holding files the test wrote, the PV
// labelled with the seed's commands, a backup by label, the namespace, the
// PV and the volume's directory deleted, and a restore that brings the files
// back byte for byte, with their modes and times, in a new directory the
// restored PV points at.
func TestSnapshotExample(t *testing.T) {
	t.Parallel()
	env, volumeRoot := snapshotEnv(t)
	ctx := context.Background()

	// kubectl apply -f examples/nginx-app/with-pv.yaml, with this cluster's
	// storage class in place of the placeholder.
	manifest, err := os.ReadFile(harness.RepoPath("examples", "nginx-app", "with-pv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	adapted := strings.ReplaceAll(string(manifest), "<YOUR_STORAGE_CLASS_NAME>", snapshotStorageClass)
	if adapted == string(manifest) {
		t.Fatal("with-pv.yaml no longer has the <YOUR_STORAGE_CLASS_NAME> placeholder")
	}
	manifestPath := filepath.Join(t.TempDir(), "with-pv.yaml")
	if err := os.WriteFile(manifestPath, []byte(adapted), 0o600); err != nil {
		t.Fatal(err)
	}
	env.MustKubectl("apply", "-f", manifestPath)

	// What a provisioner does: a volume named after the claim, bound to it
	// by spec; the PV controller completes the binding.
	var claim corev1.PersistentVolumeClaim
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "nginx-logs"}, &claim); err != nil {
		t.Fatal(err)
	}
	pvName := "pvc-" + string(claim.UID)
	pvDir := filepath.Join(t.TempDir(), "volumes", pvName)
	if err := os.MkdirAll(pvDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := snapshotWriteVolume(t, pvDir)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              snapshotStorageClass,
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("50Mi")},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
		},
	}
	if err := env.Client.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	snapshotWaitBound(t, env, "nginx-example", "nginx-logs", pvName)

	// The seed, word for word:
	//   nginx_pv_name=$(kubectl get pv -o jsonpath='{.items[?(@.spec.claimRef.name=="nginx-logs")].metadata.name}')
	//   kubectl label pv $nginx_pv_name app=nginx
	nginxPVName := strings.TrimSpace(env.MustKubectl("get", "pv", "-o", `jsonpath={.items[?(@.spec.claimRef.name=="nginx-logs")].metadata.name}`))
	if nginxPVName != pvName {
		t.Fatalf("the seed's jsonpath found PV %q, want %q", nginxPVName, pvName)
	}
	env.MustKubectl("label", "pv", nginxPVName, "app=nginx")

	out := env.MustArk("backup", "create", "nginx-backup", "--selector", "app=nginx", "--wait")
	snapshotRequireOutput(t, "backup create", out, "Backup nginx-backup: Completed")

	// status.volumeBackups has the snapshot; the bucket has it, tagged.
	b := snapshotBackup(t, env, "nginx-backup")
	if len(b.Status.VolumeBackups) != 1 || b.Status.VolumeBackups[pvName] == nil {
		t.Fatalf("status.volumeBackups = %v, want one entry for %s", b.Status.VolumeBackups, pvName)
	}
	vb := b.Status.VolumeBackups[pvName]
	if !snapshotIDPattern.MatchString(vb.SnapshotID) || vb.Type != "" || vb.AvailabilityZone != "" || vb.Iops != nil {
		t.Fatalf("volume backup of %s = %+v", pvName, vb)
	}
	if b.Status.ResourceCounts["persistentvolumes"] != 1 || b.Status.ResourceCounts["persistentvolumeclaims"] != 1 {
		t.Errorf("resource counts %v: want the PV and the claim once each", b.Status.ResourceCounts)
	}
	if got, want := snapshotObjects(t, env), []string{snapshotPrefix + vb.SnapshotID + ".json", snapshotPrefix + vb.SnapshotID + ".tar.gz"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("snapshot objects %v, want %v", got, want)
	}
	meta := snapshotReadMetadata(t, env, vb.SnapshotID)
	realDir, err := filepath.EvalSymlinks(pvDir)
	if err != nil {
		t.Fatal(err)
	}
	if meta.SnapshotID != vb.SnapshotID || meta.SourcePath != realDir {
		t.Errorf("snapshot metadata %+v: want ID %s and source %s", meta, vb.SnapshotID, realDir)
	}
	for k, v := range map[string]string{"ark.heptio.com/backup": "nginx-backup", "ark.heptio.com/pv": pvName, "app": "nginx"} {
		if meta.Tags[k] != v {
			t.Errorf("snapshot tag %s = %q, want %q (tags %v)", k, meta.Tags[k], v, meta.Tags)
		}
	}

	// describe and logs show it.
	out = env.MustArk("backup", "describe", "nginx-backup")
	snapshotRequireOutput(t, "backup describe", out, "Phase:  Completed", "Volume snapshots:", "  "+pvName+":",
		"Snapshot ID:        "+vb.SnapshotID, "Type:               <n/a>")
	out = env.MustArk("backup", "logs", "nginx-backup")
	snapshotRequireOutput(t, "backup logs", out, "volume snapshotted", vb.SnapshotID)

	// Disaster, as the seed has it, and the disk goes with the PV.
	snapshotDisaster(t, env, "nginx-example", pvName)
	if err := os.RemoveAll(pvDir); err != nil {
		t.Fatal(err)
	}

	out = env.MustArk("restore", "create", "nginx-backup", "--wait")
	m := snapshotRestoreNamePattern.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Restore "+m[1]+": Completed") {
		t.Fatalf("restore did not complete:\n%s", out)
	}
	restoreName := m[1]
	if rs := snapshotRestore(t, env, restoreName); rs.Status.Warnings != 0 || rs.Status.Errors != 0 {
		t.Errorf("restore %s: %d warnings, %d errors: %+v", restoreName, rs.Status.Warnings, rs.Status.Errors,
			snapshotRestoreResults(t, env, "nginx-backup", restoreName))
	}

	// The PV points at a new directory under volumeRoot holding the files,
	// and the PV controller binds the restored claim to it again.
	newClaim, newPV := snapshotWaitBound(t, env, "nginx-example", "nginx-logs", pvName)
	if newClaim.UID == claim.UID {
		t.Errorf("the claim was not recreated")
	}
	if newPV.Spec.HostPath == nil {
		t.Fatalf("restored PV has no hostPath: %+v", newPV.Spec.PersistentVolumeSource)
	}
	newDir := newPV.Spec.HostPath.Path
	if filepath.Dir(newDir) != filepath.Clean(volumeRoot) || !strings.HasPrefix(filepath.Base(newDir), vb.SnapshotID+"-") {
		t.Fatalf("restored PV's hostPath is %s, want <volumeRoot %s>/%s-<suffix>", newDir, volumeRoot, vb.SnapshotID)
	}
	if entries := snapshotDirEntries(t, volumeRoot); len(entries) != 1 {
		t.Errorf("volumeRoot holds %v, want only the restored volume (no staging leftovers)", entries)
	}
	if !snapshotSameTree(t, snapshotAsRestored(tree), snapshotReadVolume(t, newDir)) {
		t.Fatalf("the restored volume %s differs from the one backed up", newDir)
	}
	if newPV.Labels["app"] != "nginx" || !strings.HasPrefix(newPV.Labels[arkv1.RestoreNameLabel], "nginx-backup-") {
		t.Errorf("restored PV labels %v", newPV.Labels)
	}
	var deploy appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "nginx-deployment"}, &deploy); err != nil {
		t.Fatalf("deployment not restored: %v", err)
	}
	if vols := deploy.Spec.Template.Spec.Volumes; len(vols) != 1 || vols[0].PersistentVolumeClaim == nil || vols[0].PersistentVolumeClaim.ClaimName != "nginx-logs" {
		t.Errorf("restored deployment's volumes %+v", vols)
	}
	snapshotRequireOutput(t, "server log", env.ServerLog(), "volume restored from snapshot")

	// Deleting the backup deletes its snapshot; the restored volume, now in
	// use, stays.
	env.MustArk("backup", "delete", "nginx-backup", "--confirm")
	env.Eventually(2*time.Minute, "backup nginx-backup and its snapshot deleted", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "nginx-backup"}, &arkv1.Backup{})
		return apierrors.IsNotFound(err) && len(snapshotObjects(t, env)) == 0, err
	})
	if !snapshotSameTree(t, snapshotAsRestored(tree), snapshotReadVolume(t, newDir)) {
		t.Fatalf("deleting the backup changed the restored volume %s", newDir)
	}
}
