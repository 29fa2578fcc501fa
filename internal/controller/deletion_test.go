package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

// storeBackup puts a finished backup's files into the store.
func storeBackup(t *testing.T, s *backupstore.Store, b *arkv1.Backup) {
	t.Helper()
	ctx := context.Background()
	files := s.StartBackup(b.Name, string(b.UID))
	for _, err := range []error{
		files.PutArchive(ctx, strings.NewReader("data")),
		files.PutLog(ctx, strings.NewReader("data")),
		s.PutRestoreLog(ctx, b.Name, "r1", strings.NewReader("data")),
		files.PutMetadata(ctx, b),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func finishedBackup(name string, phase arkv1.BackupPhase) *arkv1.Backup {
	return &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: name},
		Status: arkv1.BackupStatus{Phase: phase}}
}

type deletionFixture struct {
	r     *DeleteBackupRequestReconciler
	c     client.Client
	mem   *memstore.Store
	store *backupstore.Store
	clock *fakeClock
}

func newDeletionFixture(t *testing.T, cfg arkv1.Config, objs ...client.Object) *deletionFixture {
	t.Helper()
	mem := memstore.New("ark")
	store := backupstore.New(mem, "ark", backupstore.ArkLayout)
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).
		WithStatusSubresource(&arkv1.Backup{}, &arkv1.DeleteBackupRequest{}).Build()
	settings := &settings.Settings{Factory: settings.Factory{
		ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) { return mem, nil },
	}}
	cfg.BackupStorageProvider = arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "ark"}
	settings.Set(&cfg)
	clock := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	r := &DeleteBackupRequestReconciler{Client: c, Settings: settings, Log: discardLog(), Now: clock.Now, RetryBase: time.Second, MaxAttempts: 3}
	return &deletionFixture{r: r, c: c, mem: mem, store: store, clock: clock}
}

func deletionRequest(name, backup string, created time.Time) *arkv1.DeleteBackupRequest {
	return &arkv1.DeleteBackupRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec:       arkv1.DeleteBackupRequestSpec{BackupName: backup},
	}
}

func (f *deletionFixture) reconcile(t *testing.T, name string) (ctrl.Result, *arkv1.DeleteBackupRequest) {
	t.Helper()
	key := types.NamespacedName{Namespace: "heptio-ark", Name: name}
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		t.Fatal(err)
	}
	var dbr arkv1.DeleteBackupRequest
	if err := f.c.Get(context.Background(), key, &dbr); err != nil {
		if apierrors.IsNotFound(err) {
			return res, nil
		}
		t.Fatal(err)
	}
	return res, &dbr
}

func TestDeletionDeletesEverythingOfTheBackup(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b := finishedBackup("nightly", arkv1.BackupPhaseCompleted)
	b.Finalizers = []string{arkv1.LegacyGCFinalizer}
	other := finishedBackup("weekly", arkv1.BackupPhaseCompleted)
	mine := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "nightly-1"}, Spec: arkv1.RestoreSpec{BackupName: "nightly"}}
	theirs := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "weekly-1"}, Spec: arkv1.RestoreSpec{BackupName: "weekly"}}
	refused := deletionRequest("earlier", "nightly", now.Add(-time.Hour))
	refused.Status = arkv1.DeleteBackupRequestStatus{Phase: arkv1.DeleteBackupRequestPhaseProcessed, Errors: []string{"refused"}}
	f := newDeletionFixture(t, arkv1.Config{}, b, other, mine, theirs, refused, deletionRequest("del", "nightly", now))
	storeBackup(t, f.store, b)
	storeBackup(t, f.store, other)

	res, dbr := f.reconcile(t, "del")
	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(dbr.Status.Errors) != 0 {
		t.Fatalf("status %+v, want Processed without errors", dbr.Status)
	}
	if dbr.Labels[arkv1.BackupNameLabel] != "nightly" {
		t.Errorf("request not labelled with its backup: %v", dbr.Labels)
	}
	if res.RequeueAfter != DefaultProcessedRequestTTL {
		t.Errorf("requeue after %s, want the processed-request TTL", res.RequeueAfter)
	}
	if k := f.mem.Keys("ark", "nightly/"); len(k) != 0 {
		t.Errorf("files left: %v", k)
	}
	if k := f.mem.Keys("ark", "weekly/"); len(k) != 4 {
		t.Errorf("another backup's files were touched: %v", k)
	}
	ctx := context.Background()
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(b), &arkv1.Backup{}); !apierrors.IsNotFound(err) {
		t.Errorf("Backup object still there: %v", err)
	}
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(mine), &arkv1.Restore{}); !apierrors.IsNotFound(err) {
		t.Errorf("restore of the backup still there: %v", err)
	}
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(theirs), &arkv1.Restore{}); err != nil {
		t.Errorf("restore of another backup deleted: %v", err)
	}
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(refused), &arkv1.DeleteBackupRequest{}); !apierrors.IsNotFound(err) {
		t.Errorf("the other request for the backup was not cleaned up: %v", err)
	}

	// Kept for a day, then removed.
	f.clock.Advance(23 * time.Hour)
	if res, dbr = f.reconcile(t, "del"); dbr == nil || res.RequeueAfter != time.Hour {
		t.Fatalf("processed request after 23h: %v, requeue %s; want kept another hour", dbr, res.RequeueAfter)
	}
	f.clock.Advance(time.Hour)
	if _, dbr = f.reconcile(t, "del"); dbr != nil {
		t.Fatal("processed request older than 24h not removed")
	}
}

func TestDeletionOfABackupOnlyInTheBucket(t *testing.T) {
	f := newDeletionFixture(t, arkv1.Config{}, deletionRequest("del", "orphan", time.Now()))
	storeBackup(t, f.store, finishedBackup("orphan", arkv1.BackupPhaseCompleted))
	if _, dbr := f.reconcile(t, "del"); dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(dbr.Status.Errors) != 0 {
		t.Fatalf("status %+v", dbr.Status)
	}
	if k := f.mem.Keys("ark", "orphan/"); len(k) != 0 {
		t.Fatalf("files left: %v", k)
	}
}

func TestDeletionRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    arkv1.Config
		backup *arkv1.Backup
		want   string
	}{
		{"in progress", arkv1.Config{}, finishedBackup("b", arkv1.BackupPhaseInProgress), `backup "b" is InProgress: a backup that has not finished cannot be deleted`},
		{"new", arkv1.Config{}, finishedBackup("b", ""), `backup "b" is New`},
		{"snapshots without a provider", arkv1.Config{}, func() *arkv1.Backup {
			b := finishedBackup("b", arkv1.BackupPhaseCompleted)
			b.Status.VolumeBackups = map[string]*arkv1.VolumeBackupInfo{"pv": {SnapshotID: "snap-1"}}
			return b
		}(), "has 1 volume snapshot(s) but the Config names no persistentVolumeProvider"},
		{"restore-only mode", arkv1.Config{RestoreOnlyMode: true}, finishedBackup("b", arkv1.BackupPhaseCompleted), "restore-only mode"},
		{"missing everywhere", arkv1.Config{}, nil, `backup "b" not found in namespace heptio-ark nor in bucket ark`},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs := []client.Object{deletionRequest("del", "b", time.Now())}
			if c.backup != nil {
				objs = append(objs, c.backup)
			}
			f := newDeletionFixture(t, c.cfg, objs...)
			if c.backup != nil {
				storeBackup(t, f.store, c.backup)
			}
			_, dbr := f.reconcile(t, "del")
			if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(dbr.Status.Errors) != 1 || !strings.Contains(dbr.Status.Errors[0], c.want) {
				t.Fatalf("status %+v, want Processed with %q", dbr.Status, c.want)
			}
			if c.backup == nil {
				return
			}
			if k := f.mem.Keys("ark", "b/"); len(k) != 4 {
				t.Errorf("a refused deletion deleted files: %v left", k)
			}
			var b arkv1.Backup
			if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(c.backup), &b); err != nil || b.Status.Phase != c.backup.Status.Phase {
				t.Errorf("a refused deletion changed the backup: %v %q", err, b.Status.Phase)
			}
		})
	}
}

func TestDeletionRetriesTransientFailuresWithBackoff(t *testing.T) {
	b := finishedBackup("b", arkv1.BackupPhaseCompleted)
	f := newDeletionFixture(t, arkv1.Config{}, b, deletionRequest("del", "b", time.Now()))
	storeBackup(t, f.store, b)
	f.mem.FailDelete = func(string, string) error {
		return fmt.Errorf("dial tcp 127.0.0.1:9000: connection refused: %w", objectstore.ErrUnreachable)
	}

	for attempt, wantDelay := range []time.Duration{time.Second, 2 * time.Second} {
		res, dbr := f.reconcile(t, "del")
		if res.RequeueAfter != wantDelay || dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseInProgress {
			t.Fatalf("attempt %d: requeue %s, status %+v; want a retry in %s", attempt+1, res.RequeueAfter, dbr.Status, wantDelay)
		}
		if msg := strings.Join(dbr.Status.Errors, "\n"); !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "retrying in") {
			t.Fatalf("attempt %d: errors %q", attempt+1, msg)
		}
	}
	var got arkv1.Backup
	if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil || got.Status.Phase != arkv1.BackupPhaseDeleting {
		t.Fatalf("backup during retries: %v %q, want Deleting", err, got.Status.Phase)
	}
	_, dbr := f.reconcile(t, "del")
	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(strings.Join(dbr.Status.Errors, "\n"), "gave up after 3 attempts") {
		t.Fatalf("after the last attempt: %+v", dbr.Status)
	}

	// A new request once storage is back finishes the job.
	f.mem.FailDelete = nil
	if err := f.c.Create(context.Background(), deletionRequest("again", "b", time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, dbr := f.reconcile(t, "again"); dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(dbr.Status.Errors) != 0 {
		t.Fatalf("second request: %+v", dbr.Status)
	}
	if k := f.mem.Keys("ark", "b/"); len(k) != 0 {
		t.Fatalf("files left: %v", k)
	}
}

func TestDeletionGivesUpAtOnceOnPermanentFailures(t *testing.T) {
	b := finishedBackup("b", arkv1.BackupPhaseCompleted)
	f := newDeletionFixture(t, arkv1.Config{}, b, deletionRequest("del", "b", time.Now()))
	storeBackup(t, f.store, b)
	f.mem.FailDelete = func(string, string) error {
		return fmt.Errorf("the credentials may not delete: %w", objectstore.ErrAccessDenied)
	}
	_, dbr := f.reconcile(t, "del")
	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(strings.Join(dbr.Status.Errors, "\n"), "not retried") {
		t.Fatalf("status %+v, want Processed at once", dbr.Status)
	}
}
