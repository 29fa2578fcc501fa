package controller

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
)

// heldArchive is a bucket whose archive uploads store a partial object and
// then hang until their context ends, as an upload cut short does: a
// backup is caught mid-way, with something of it in the bucket.
type heldArchive struct {
	*memstore.Store
	started chan struct{}
	once    sync.Once
}

func (h *heldArchive) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if !strings.HasSuffix(key, ".tar.gz") {
		return h.Store.PutObject(ctx, bucket, key, body)
	}
	if err := h.Store.PutObject(ctx, bucket, key, strings.NewReader("partial")); err != nil {
		return err
	}
	h.once.Do(func() { close(h.started) })
	<-ctx.Done()
	return ctx.Err()
}

func fastCancelPoll(t *testing.T) {
	old := cancelPoll
	cancelPoll = 20 * time.Millisecond
	t.Cleanup(func() { cancelPoll = old })
}

func (e *reconcilerEnv) setCancel(t *testing.T, obj client.Object, set func()) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	set()
	if err := e.client.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

// A running backup stops when spec.cancel is set (seen by the poll here;
// the watcher is the faster path in the server), deletes what it wrote,
// and ends Cancelled; a New one never starts.
func TestBackupCancel(t *testing.T) {
	fastCancelPoll(t)
	e := newReconcilerEnv(t)
	held := &heldArchive{Store: e.bucket, started: make(chan struct{})}
	e.settings = memSettings(nil, nil)
	e.settings.Factory.ObjectStore = func(string, map[string]string) (objectstore.ObjectStore, error) { return held, nil }
	e.settings.Set(&arkv1.Config{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "ark"}})
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 20)

	e.newBackup(t, "running", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	done := make(chan error, 1)
	go func() {
		_, err := e.backupReconciler().Reconcile(context.Background(), e.key("running"))
		done <- err
	}()
	<-held.started
	if keys := e.bucket.Keys("ark", "running/"); len(keys) == 0 {
		t.Fatal("the held upload stored nothing")
	}
	b := e.getBackup(t, "running")
	if b.Status.Phase != arkv1.BackupPhaseInProgress {
		t.Fatalf("phase %s while the archive uploads", b.Status.Phase)
	}
	e.setCancel(t, b, func() { b.Spec.Cancel = true })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the backup did not stop within 30s of its cancel")
	}
	b = e.getBackup(t, "running")
	if b.Status.Phase != arkv1.BackupPhaseCancelled || !strings.Contains(b.Status.FailureReason, "files were deleted") || b.Status.CompletionTimestamp == nil {
		t.Fatalf("status %+v, want Cancelled saying its files were deleted", b.Status)
	}
	if keys := e.bucket.Keys("ark", "running/"); len(keys) != 0 {
		t.Fatalf("a cancelled backup left %v in the bucket", keys)
	}

	e.newBackup(t, "never", arkv1.BackupSpec{IncludedNamespaces: []string{src}, Cancel: true})
	e.reconcileBackup(t, "never")
	if b := e.getBackup(t, "never"); b.Status.Phase != arkv1.BackupPhaseCancelled || b.Status.StartTimestamp != nil {
		t.Fatalf("a backup cancelled while New: %+v", b.Status)
	}
	if keys := e.bucket.Keys("ark", "never/"); len(keys) != 0 {
		t.Fatalf("a backup cancelled while New wrote %v", keys)
	}
}

// The registry stops a run by UID at once (the watcher's path), and a run
// that ended is no longer in it.
func TestRunsCancelByUID(t *testing.T) {
	var r runs
	ctx, stop := r.start(context.Background(), "uid-1", func(context.Context) (bool, error) { return false, nil })
	if !r.cancel("uid-1") {
		t.Fatal("a running operation was not found")
	}
	<-ctx.Done()
	if !cancelled(ctx) {
		t.Fatalf("cause %v, want the cancel request", context.Cause(ctx))
	}
	stop()
	if r.cancel("uid-1") {
		t.Fatal("a finished operation was cancelled")
	}
	ctx, stop = r.start(context.Background(), "uid-2", func(context.Context) (bool, error) { return false, nil })
	stop()
	if cancelled(ctx) {
		t.Fatal("a run that ended normally looks cancelled")
	}
}

// A running restore stops creating, keeps what it created, and ends
// Cancelled with the counts of what was and was not restored, its log and
// results stored.
func TestRestoreCancel(t *testing.T) {
	fastProgress(t)
	e := newReconcilerEnv(t)
	src, dst := e.namespace+"-src", e.namespace+"-dst"
	e.createNamespace(t, src)
	e.configMaps(t, src, 600)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	e.reconcileBackup(t, "b1")

	e.newRestore(t, "r1", arkv1.RestoreSpec{BackupName: "b1", NamespaceMapping: map[string]string{src: dst}, IncludedResources: []string{"configmaps"}})
	rec := e.restoreReconciler()
	rec.Workers = 1
	done := make(chan error, 1)
	go func() {
		_, err := rec.Reconcile(context.Background(), e.key("r1"))
		done <- err
	}()
	var r *arkv1.Restore
	deadline := time.Now().Add(time.Minute)
	for {
		r = e.getRestore(t, "r1")
		if p := r.Status.Progress; p != nil && p.ItemsRestored >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restore did not get going: %+v", r.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !rec.running.cancel(r.UID) {
		t.Fatal("the running restore is not in the registry")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r = e.getRestore(t, "r1")
	p := r.Status.Progress
	if r.Status.Phase != arkv1.RestorePhaseCancelled || p == nil {
		t.Fatalf("status %+v, want Cancelled", r.Status)
	}
	if p.TotalItems != 600 || p.ItemsRestored < 10 || p.ItemsRestored >= 600 || p.ItemsRestored+p.ItemsNotRestored != p.TotalItems {
		t.Fatalf("counts %+v: want restored + not restored = 600, cut short", p)
	}
	var cms corev1.ConfigMapList
	if err := e.client.List(context.Background(), &cms, client.InNamespace(dst), client.MatchingLabels{arkv1.RestoreNameLabel: "r1"}); err != nil {
		t.Fatal(err)
	}
	if len(cms.Items) != p.ItemsRestored {
		t.Fatalf("%d ConfigMaps in %s, the status says %d were restored", len(cms.Items), dst, p.ItemsRestored)
	}
	if !strings.Contains(r.Status.FailureReason, "not restored") {
		t.Errorf("reason %q", r.Status.FailureReason)
	}
	if keys := e.bucket.Keys("ark", "b1/restore-r1-"); strings.Join(keys, ",") != "b1/restore-r1-logs.gz,b1/restore-r1-results.gz" {
		t.Errorf("restore files in the bucket: %v", keys)
	}

	e.newRestore(t, "r2", arkv1.RestoreSpec{BackupName: "b1", Cancel: true})
	e.reconcileRestore(t, "r2")
	if r := e.getRestore(t, "r2"); r.Status.Phase != arkv1.RestorePhaseCancelled || r.Status.StartTimestamp != nil {
		t.Fatalf("a restore cancelled while New: %+v", r.Status)
	}
}

// recordingVolumes is a BlockStore that records deleted snapshots.
type recordingVolumes struct {
	snapshot.BlockStore
	mu      sync.Mutex
	deleted []string
}

func (v *recordingVolumes) DeleteSnapshot(_ context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.deleted = append(v.deleted, id)
	return nil
}

func (v *recordingVolumes) GetVolumeID(*unstructured.Unstructured) (string, error) { return "", nil }

// A cancel asked while no server ran is carried out by the next one: the
// backup's files and the snapshots its status lists are deleted, and both
// the backup and the restore end Cancelled; an InProgress backup without a
// cancel still ends Failed.
func TestRecoveryFinishesCancels(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	volumes := &recordingVolumes{}
	cfg := &arkv1.Config{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider:    arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "ark"},
		PersistentVolumeProvider: &arkv1.CloudProviderConfig{Name: "recording"}}
	if err := e.client.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	withVolumes := &settings.Settings{Factory: settings.Factory{
		ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) { return e.bucket, nil },
		BlockStore: func(string, map[string]string, snapshotproviders.Deps) (snapshot.BlockStore, error) {
			return volumes, nil
		},
	}}
	withVolumes.Set(cfg)
	env, err := withVolumes.Environment()
	if err != nil {
		t.Fatal(err)
	}
	inProgress := func(name string, cancel bool) {
		e.newBackup(t, name, arkv1.BackupSpec{Cancel: cancel})
		b := e.getBackup(t, name)
		start := metav1.Now()
		e.setStatus(t, b, func() {
			b.Status.Phase, b.Status.StartTimestamp = arkv1.BackupPhaseInProgress, &start
			b.Status.Progress = &arkv1.BackupProgress{ItemsBackedUp: 42}
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv-1": {SnapshotID: "snap-" + name}}
		})
		// What the interrupted run had written: its marker, then part of
		// its archive.
		run := env.Store.StartBackup(name, string(b.UID))
		if err := run.Claim(ctx, start.Time); err != nil {
			t.Fatal(err)
		}
		if err := run.PutArchive(ctx, strings.NewReader("partial")); err != nil {
			t.Fatal(err)
		}
	}
	inProgress("cancelled", true)
	inProgress("crashed", false)
	e.newRestore(t, "restoring", arkv1.RestoreSpec{BackupName: "cancelled", Cancel: true})
	rs := e.getRestore(t, "restoring")
	e.setStatus(t, rs, func() {
		rs.Status.Phase = arkv1.RestorePhaseInProgress
		rs.Status.Progress = &arkv1.RestoreProgress{TotalItems: 10, ItemsRestored: 4}
	})

	rec := &Interrupted{Client: e.client, Namespace: e.namespace, Log: e.log(), Settings: withVolumes, RetryEvery: 10 * time.Millisecond}
	if err := rec.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b := e.getBackup(t, "cancelled")
	if b.Status.Phase != arkv1.BackupPhaseCancelled || len(b.Status.VolumeBackups) != 0 ||
		!strings.Contains(b.Status.FailureReason, "after 42 items") || !strings.Contains(b.Status.FailureReason, "1 of 1 volume snapshots deleted") {
		t.Fatalf("cancelled backup after recovery: %+v", b.Status)
	}
	if keys := e.bucket.Keys("ark", "cancelled/"); len(keys) != 0 {
		t.Fatalf("left in the bucket: %v", keys)
	}
	if strings.Join(volumes.deleted, ",") != "snap-cancelled" {
		t.Fatalf("snapshots deleted: %v, want only the cancelled backup's", volumes.deleted)
	}
	if b := e.getBackup(t, "crashed"); b.Status.Phase != arkv1.BackupPhaseFailed || len(b.Status.VolumeBackups) != 1 {
		t.Fatalf("crashed backup after recovery: %+v (its snapshots stay listed for 'ark backup delete')", b.Status)
	}
	rs = e.getRestore(t, "restoring")
	if p := rs.Status.Progress; rs.Status.Phase != arkv1.RestorePhaseCancelled || p.ItemsRestored != 4 || p.ItemsNotRestored != 6 {
		t.Fatalf("restore after recovery: %+v", rs.Status)
	}
}

func (e *reconcilerEnv) setStatus(t *testing.T, obj client.Object, set func()) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	set()
	if err := e.client.Status().Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}
