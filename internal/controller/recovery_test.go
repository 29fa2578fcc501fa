package controller

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
)

// quickRetries makes the retried status writes give up fast.
func quickRetries(t *testing.T) {
	old := finalWriteBackoff
	finalWriteBackoff = wait.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
	t.Cleanup(func() { finalWriteBackoff = old })
}

// failingFinalWrites is e's client, except that while fail is set every
// status patch that would end a backup (Completed) is refused, as by an API
// server that went away at that moment.
func (e *reconcilerEnv) failingFinalWrites(t *testing.T, fail *atomic.Bool) client.Client {
	t.Helper()
	c, err := client.NewWithWatch(apiServer(t), client.Options{Scheme: arkv1.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if _, isBackup := obj.(*arkv1.Backup); isBackup && fail.Load() {
				if data, _ := patch.Data(obj); bytes.Contains(data, []byte(`"phase":"Completed"`)) {
					return errors.New("injected: the API server went away")
				}
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
}

func (e *reconcilerEnv) recovery() *Interrupted {
	return &Interrupted{Client: e.client, Namespace: e.namespace, Log: e.log(), Settings: e.settings, RetryEvery: 10 * time.Millisecond}
}

func (e *reconcilerEnv) store() *backupstore.Store {
	return backupstore.New(e.bucket, "ark", backupstore.ArkLayout)
}

// The final status write fails after ark-backup.json is in the bucket: the
// backup is complete. The reconciler writes the status on a later
// reconcile; a server that died instead leaves it to the next one's
// recovery, which adopts the status recorded in the bucket rather than
// calling the backup Failed.
func TestBackupStoredBeforeItsStatusIsNeverLost(t *testing.T) {
	quickRetries(t)
	e := newReconcilerEnv(t)
	var fail atomic.Bool
	fail.Store(true)
	r := e.backupReconciler()
	r.Client = e.failingFinalWrites(t, &fail)
	spec := arkv1.BackupSpec{IncludedNamespaces: []string{"default"}}

	// A server that lives on: the next reconcile writes the status.
	e.newBackup(t, "retried", spec)
	if _, err := r.Reconcile(context.Background(), e.key("retried")); err == nil {
		t.Fatal("the reconcile whose status write failed reported no error, so it would not be retried")
	}
	if p := e.getBackup(t, "retried").Status.Phase; p != arkv1.BackupPhaseInProgress {
		t.Fatalf("phase %s after the failed write, want InProgress", p)
	}
	fail.Store(false)
	if _, err := r.Reconcile(context.Background(), e.key("retried")); err != nil {
		t.Fatal(err)
	}
	b := e.getBackup(t, "retried")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Archive == nil {
		t.Fatalf("status after the retry: %+v", b.Status)
	}

	// A server that dies: its successor adopts the stored status.
	fail.Store(true)
	e.newBackup(t, "adopted", spec)
	if _, err := r.Reconcile(context.Background(), e.key("adopted")); err == nil {
		t.Fatal("want the status write to fail")
	}
	stored, err := e.store().GetMetadata(context.Background(), "adopted")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.recovery().Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	b = e.getBackup(t, "adopted")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("phase %s (%s) after recovery, want Completed as recorded in the bucket", b.Status.Phase, b.Status.FailureReason)
	}
	if b.Status.Archive == nil || *b.Status.Archive != *stored.Status.Archive {
		t.Fatalf("archive %+v, want the stored %+v", b.Status.Archive, stored.Status.Archive)
	}
	if keys := e.bucket.Keys("ark", "adopted/"); strings.Join(keys, ",") != "adopted/adopted-logs.gz,adopted/adopted.tar.gz,adopted/ark-backup.json" {
		t.Errorf("bucket holds %v", keys)
	}
	// And the backup restores.
	e.newRestore(t, "from-adopted", arkv1.RestoreSpec{BackupName: "adopted", NamespaceMapping: map[string]string{"default": e.namespace + "-adopted"}})
	e.reconcileRestore(t, "from-adopted")
	if p := e.getRestore(t, "from-adopted").Status.Phase; p != arkv1.RestorePhaseCompleted {
		t.Errorf("restore of the adopted backup: %s", p)
	}
}

// A backup a dead server left InProgress, not complete in the bucket, is
// Failed, and what its run wrote is removed; files of an older backup of
// the same name are never touched.
func TestRecoveryRemovesOnlyWhatTheInterruptedRunWrote(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	store := e.store()

	// An older backup "same" is in the bucket (its Backup object deleted
	// with kubectl); a new "same" was claimed, and its server died before
	// it wrote anything.
	older := &arkv1.Backup{}
	older.Name, older.Namespace, older.UID = "same", e.namespace, "uid-of-the-older-backup"
	older.Status.Phase = arkv1.BackupPhaseCompleted
	run := store.StartBackup("same", string(older.UID))
	for _, err := range []error{run.PutArchive(ctx, strings.NewReader("older archive")), run.PutLog(ctx, strings.NewReader("older log")), run.PutMetadata(ctx, older)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	e.newBackup(t, "same", arkv1.BackupSpec{})
	e.markInProgress(t, "same")

	// "partial" got as far as half its archive.
	e.newBackup(t, "partial", arkv1.BackupSpec{})
	partial := e.markInProgress(t, "partial")
	pr := store.StartBackup("partial", string(partial.UID))
	if err := pr.Claim(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := pr.PutArchive(ctx, strings.NewReader("half an archive")); err != nil {
		t.Fatal(err)
	}

	if err := e.recovery().Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"same", "partial"} {
		b := e.getBackup(t, name)
		if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "run it again") {
			t.Errorf("%s: status %+v, want Failed saying to run it again", name, b.Status)
		}
	}
	if keys := e.bucket.Keys("ark", "partial/"); len(keys) != 0 {
		t.Errorf("the interrupted run's files are still there: %v", keys)
	}
	if keys := e.bucket.Keys("ark", "same/"); strings.Join(keys, ",") != "same/ark-backup.json,same/same-logs.gz,same/same.tar.gz" {
		t.Fatalf("the older backup's files changed: %v", keys)
	}
	rc, err := store.GetArchive(ctx, "same")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "older archive" {
		t.Errorf("the older backup's archive holds %q", data)
	}
}

func (e *reconcilerEnv) markInProgress(t *testing.T, name string) *arkv1.Backup {
	t.Helper()
	b := e.getBackup(t, name)
	if err := patchStatus(context.Background(), e.client, b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseInProgress
	}); err != nil {
		t.Fatal(err)
	}
	return b
}
