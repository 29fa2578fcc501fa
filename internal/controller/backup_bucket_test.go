package controller

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/snapshot"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
)

// storeOlderBackup puts a complete backup named name, made by another
// Backup object (uid), into e's bucket, and returns its archive's content.
func (e *reconcilerEnv) storeOlderBackup(t *testing.T, name, uid string) string {
	t.Helper()
	ctx := context.Background()
	older := &arkv1.Backup{}
	older.Name, older.Namespace, older.UID = name, e.namespace, types.UID("uid-"+uid)
	older.Status.Phase = arkv1.BackupPhaseCompleted
	content := "archive of the older " + name
	run := e.store().StartBackup(name, string(older.UID))
	for _, err := range []error{run.PutArchive(ctx, strings.NewReader(content)), run.PutLog(ctx, strings.NewReader("log")), run.PutMetadata(ctx, older)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return content
}

func (e *reconcilerEnv) archiveContent(t *testing.T, name string) string {
	t.Helper()
	rc, err := e.store().GetArchive(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A new backup never overwrites (or, failing, deletes) an older backup of
// the same name in the bucket: it is refused at validation, naming the fix;
// and deleting the refused Backup object leaves the older backup alone.
func TestBackupOfANameTheBucketHoldsIsRefused(t *testing.T) {
	e := newReconcilerEnv(t)
	want := e.storeOlderBackup(t, "taken", "older")
	e.newBackup(t, "taken", arkv1.BackupSpec{IncludedNamespaces: []string{"default"}})
	e.reconcileBackup(t, "taken")
	b := e.getBackup(t, "taken")
	if b.Status.Phase != arkv1.BackupPhaseFailedValidation || len(b.Status.ValidationErrors) != 1 {
		t.Fatalf("status %+v, want FailedValidation", b.Status)
	}
	msg := b.Status.ValidationErrors[0]
	for _, s := range []string{`already holds a backup named "taken"`, "another name", "ark backup delete taken"} {
		if !strings.Contains(msg, s) {
			t.Errorf("validation error %q lacks %q", msg, s)
		}
	}
	if got := e.archiveContent(t, "taken"); got != want {
		t.Fatalf("the older backup's archive was overwritten: %q", got)
	}

	// `ark backup delete taken` while the refused object exists: it goes,
	// the older backup stays.
	req := arkv1.NewDeleteBackupRequest(e.namespace, "taken")
	if err := e.client.Create(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	d := &DeleteBackupRequestReconciler{Client: e.client, Settings: e.settings, Log: e.log()}
	if _, err := d.Reconcile(context.Background(), e.key(req.Name)); err != nil {
		t.Fatal(err)
	}
	var gone arkv1.Backup
	if err := e.client.Get(context.Background(), e.key("taken").NamespacedName, &gone); err == nil {
		t.Errorf("the refused Backup object is still there")
	}
	if got := e.archiveContent(t, "taken"); got != want {
		t.Fatalf("deleting the refused backup changed the older one's archive: %q", got)
	}
	if keys := e.bucket.Keys("ark", "taken/"); len(keys) != 3 {
		t.Errorf("bucket holds %v, want the older backup's three files", keys)
	}
}

// Two runs of the same name (two clusters on one bucket) that both passed
// validation: at most one claims the name, and the loser removes only its
// own marker.
func TestConcurrentRunsOfOneNameClaimItOnce(t *testing.T) {
	e := newReconcilerEnv(t)
	store := e.store()
	for round := range 20 {
		name := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				results[i] = store.StartBackup(name, fmt.Sprintf("run-%d", i)).Claim(context.Background(), metav1.Now().Time)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			if err == nil {
				won++
			}
		}
		if won > 1 {
			t.Fatalf("round %d: both runs claimed %s", round, name)
		}
		files, err := store.Files(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if len(files.Runs) != won {
			t.Fatalf("round %d: %d winner(s) but markers %v left", round, won, files.Runs)
		}
	}
}

// fakeVolumes is a BlockStore whose volumes are the PVs' hostPath paths.
type fakeVolumes struct {
	mu      sync.Mutex
	taken   []string
	deleted []string
}

func (f *fakeVolumes) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	p, _, _ := unstructured.NestedString(pv.Object, "spec", "hostPath", "path")
	return p, nil
}
func (f *fakeVolumes) SetVolumeID(pv *unstructured.Unstructured, id string) (*unstructured.Unstructured, error) {
	return pv, nil
}
func (f *fakeVolumes) GetVolumeInfo(context.Context, string, string) (string, *int64, error) {
	return "fake", nil, nil
}
func (f *fakeVolumes) CreateSnapshot(_ context.Context, id, _ string, _ map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fmt.Sprintf("snap-%d", len(f.taken))
	f.taken = append(f.taken, s)
	return s, nil
}
func (f *fakeVolumes) CreateVolumeFromSnapshot(context.Context, string, string, string, *int64) (string, error) {
	return "", fmt.Errorf("not supported")
}
func (f *fakeVolumes) IsVolumeReady(context.Context, string, string) (bool, error) { return true, nil }
func (f *fakeVolumes) DeleteSnapshot(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, id)
	return nil
}

// Snapshots are recorded in the Backup's status as they are taken (so a
// server that dies leaves them listed); a backup that fails after taking
// them deletes them, and its deletion then finds nothing left.
func TestSnapshotsOfAFailedBackupAreRecordedAndDeleted(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	vols := &fakeVolumes{}
	cfg, _ := e.settings.Config()
	withPVs := cfg.DeepCopy()
	withPVs.PersistentVolumeProvider = &arkv1.CloudProviderConfig{Name: "fake"}
	e.settings.Factory.BlockStore = func(string, map[string]string, snapshotproviders.Deps) (snapshot.BlockStore, error) { return vols, nil }
	e.settings.Set(withPVs)
	for i := range 2 {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-pv-%d", e.namespace, i), Labels: map[string]string{"test": e.namespace}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: fmt.Sprintf("/data/%s/%d", e.namespace, i)}},
			},
		}
		if err := e.client.Create(ctx, pv); err != nil {
			t.Fatal(err)
		}
	}
	// The archive is written, then storing the log fails: the backup fails
	// after its snapshots were taken.
	e.bucket.FailPut = func(_, key string) error {
		if strings.HasSuffix(key, "-logs.gz") {
			return fmt.Errorf("injected: %w", objectstore.ErrUnreachable)
		}
		return nil
	}
	e.newBackup(t, "snaps", arkv1.BackupSpec{IncludedResources: []string{"persistentvolumes"}, IncludeClusterResources: ptr(true),
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"test": e.namespace}}})
	e.reconcileBackup(t, "snaps")
	e.bucket.FailPut = nil
	b := e.getBackup(t, "snaps")
	if b.Status.Phase != arkv1.BackupPhaseFailed {
		t.Fatalf("phase %s, want Failed", b.Status.Phase)
	}
	// The failed backup deleted what it took; only snapshots it could not
	// delete would stay listed, for its deletion to retry.
	if len(vols.taken) != 2 || len(b.Status.VolumeBackups) != 0 {
		t.Fatalf("took %v, still listed %v: a failed backup deletes the snapshots it took", vols.taken, b.Status.VolumeBackups)
	}
	if got, want := strings.Join(slices.Sorted(slices.Values(vols.deleted)), ","), strings.Join(slices.Sorted(slices.Values(vols.taken)), ","); got != want {
		t.Fatalf("deleted snapshots %v when the backup failed, want %v", got, want)
	}

	req := arkv1.NewDeleteBackupRequest(e.namespace, "snaps")
	if err := e.client.Create(ctx, req); err != nil {
		t.Fatal(err)
	}
	d := &DeleteBackupRequestReconciler{Client: e.client, Settings: e.settings, Log: e.log()}
	if _, err := d.Reconcile(ctx, e.key(req.Name)); err != nil {
		t.Fatal(err)
	}
	var done arkv1.DeleteBackupRequest
	if err := e.client.Get(ctx, e.key(req.Name).NamespacedName, &done); err != nil {
		t.Fatal(err)
	}
	if done.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(done.Status.Errors) > 0 {
		t.Fatalf("deletion: %+v", done.Status)
	}
	if strings.Join(vols.deleted, ",") != strings.Join(vols.taken, ",") {
		t.Errorf("deleted snapshots %v, want %v", vols.deleted, vols.taken)
	}
	if keys := e.bucket.Keys("ark", "snaps/"); len(keys) != 0 {
		t.Errorf("bucket still holds %v", keys)
	}
}
