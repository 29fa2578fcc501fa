package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

// lockedBucket is a bucket with object lock: each key may carry a
// retention, reported by ObjectRetention and enforced by DeleteObject (as
// GCS and Azure do; S3 would add a delete marker instead, which is why the
// retention is read first).
type lockedBucket struct {
	*memstore.Store
	retention map[string]objectstore.Retention
	now       func() time.Time
	// hidden keeps the retention out of ObjectRetention (an Azure
	// container-level policy), so only DeleteObject tells.
	hidden bool
}

func (l *lockedBucket) ObjectRetention(ctx context.Context, bucket, key string) (objectstore.Retention, error) {
	if _, err := l.GetObject(ctx, bucket, key); err != nil {
		return objectstore.Retention{}, err
	}
	if l.hidden {
		return objectstore.Retention{}, nil
	}
	return l.retention[key], nil
}

func (l *lockedBucket) DeleteObject(ctx context.Context, bucket, key string) error {
	if r := l.retention[key]; r.Holds(l.now()) {
		return fmt.Errorf("%w: refused", objectstore.ErrRetained)
	}
	return l.Store.DeleteObject(ctx, bucket, key)
}

func lockAll(l *lockedBucket, prefix string, r objectstore.Retention) {
	for _, k := range l.Keys("ark", prefix) {
		l.retention[k] = r
	}
}

// A deletion of a backup under object lock ends at once with the reason
// and the date, deleting nothing (not even its snapshots); one whose
// retention shows only when a file is refused is not retried either.
func TestDeletionOfALockedBackup(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	until := now.Add(24 * time.Hour)
	b := finishedBackup("locked", arkv1.BackupPhaseCompleted)
	f := newDeletionFixture(t, arkv1.Config{}, b, deletionRequest("del", "locked", now))
	locked := &lockedBucket{Store: f.mem, retention: map[string]objectstore.Retention{}, now: f.clock.Now}
	f.r.Settings.Factory.ObjectStore = func(string, map[string]string) (objectstore.ObjectStore, error) { return locked, nil }
	storeBackup(t, f.store, b)
	lockAll(locked, "locked/", objectstore.Retention{Until: until, Mode: "COMPLIANCE"})

	res, dbr := f.reconcile(t, "del")
	msg := strings.Join(dbr.Status.Errors, "\n")
	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(msg, "retained until 2026-03-02T10:00:00Z (COMPLIANCE object lock)") ||
		!strings.Contains(msg, "nothing was deleted") {
		t.Fatalf("status %+v", dbr.Status)
	}
	if res.RequeueAfter != DefaultProcessedRequestTTL {
		t.Fatalf("requeued after %s: a locked backup must not be retried", res.RequeueAfter)
	}
	if k := f.mem.Keys("ark", "locked/"); len(k) != 4 {
		t.Fatalf("files of a locked backup were deleted: %v", k)
	}
	var got arkv1.Backup
	if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(b), &got); err != nil || got.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("the Backup after a refused deletion: %v %s", err, got.Status.Phase)
	}

	// The retention shows only on delete: one attempt, no retries.
	locked.hidden = true
	if err := f.c.Create(context.Background(), deletionRequest("del2", "locked", now)); err != nil {
		t.Fatal(err)
	}
	res, dbr = f.reconcile(t, "del2")
	msg = strings.Join(dbr.Status.Errors, "\n")
	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || !strings.Contains(msg, "not retried: the bucket keeps these files under retention") {
		t.Fatalf("status %+v", dbr.Status)
	}
	if res.RequeueAfter != DefaultProcessedRequestTTL {
		t.Fatalf("requeued after %s", res.RequeueAfter)
	}

	// Once the retention has ended, it goes.
	locked.hidden = false
	f.clock.Advance(25 * time.Hour)
	if err := f.c.Create(context.Background(), deletionRequest("del3", "locked", f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, dbr = f.reconcile(t, "del3"); dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(dbr.Status.Errors) != 0 {
		t.Fatalf("after the retention: %+v", dbr.Status)
	}
	if k := f.mem.Keys("ark", "locked/"); len(k) != 0 {
		t.Fatalf("files left: %v", k)
	}
}

// GC does not ask for the deletion of an expired backup the bucket keeps
// under retention, nor looks it up again before the retention ends.
func TestGarbageCollectorLeavesLockedBackups(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	b := finishedBackup("locked", arkv1.BackupPhaseCompleted)
	exp := clock.t.Add(-time.Hour)
	b.Status.Expiration = ptrTime(exp)
	free := finishedBackup("free", arkv1.BackupPhaseCompleted)
	free.Status.Expiration = ptrTime(exp)
	mem := memstore.New("ark")
	locked := &lockedBucket{Store: mem, retention: map[string]objectstore.Retention{}, now: clock.Now}
	store := backupstore.New(locked, "ark", backupstore.ArkLayout)
	storeBackup(t, store, b)
	storeBackup(t, store, free)
	lockAll(locked, "locked/", objectstore.Retention{Until: clock.t.Add(2 * time.Hour), Mode: "GOVERNANCE"})
	lookups := 0
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(b, free).Build()
	g := &GarbageCollector{Client: c, Namespace: "heptio-ark", Log: discardLog(), Now: clock.Now}
	env := &settings.Environment{Config: &arkv1.Config{}, Store: backupstore.New(countingRetention{locked, &lookups}, "ark", backupstore.ArkLayout)}
	if got := g.Collect(ctx, env); strings.Join(got, ",") != "free" {
		t.Fatalf("requested %v, want only the unlocked backup", got)
	}
	before := lookups
	clock.Advance(time.Hour)
	if got := g.Collect(ctx, env); len(got) != 0 || lookups != before {
		t.Fatalf("second pass requested %v, looked up retention %d more times", got, lookups-before)
	}
	clock.Advance(2 * time.Hour)
	if got := g.Collect(ctx, env); strings.Join(got, ",") != "locked" {
		t.Fatalf("after the retention requested %v", got)
	}
}

type countingRetention struct {
	*lockedBucket
	n *int
}

func (c countingRetention) ObjectRetention(ctx context.Context, bucket, key string) (objectstore.Retention, error) {
	*c.n++
	return c.lockedBucket.ObjectRetention(ctx, bucket, key)
}

var _ objectstore.RetentionReader = countingRetention{}

func ptrTime(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }
