package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
)

func (e *reconcilerEnv) newBackup(t *testing.T, name string, spec arkv1.BackupSpec) {
	t.Helper()
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: spec}
	if err := e.client.Create(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func (e *reconcilerEnv) reconcileBackup(t *testing.T, name string) {
	t.Helper()
	if _, err := e.backupReconciler().Reconcile(context.Background(), e.key(name)); err != nil {
		t.Fatalf("reconcile backup %s: %v", name, err)
	}
}

// A backup runs to Completed with progress written while the engine reads
// the spec: run with -race, this is the test of the engine having its own
// copy of the Backup.
func TestBackupReconcilerCompletesWithProgress(t *testing.T) {
	fastProgress(t)
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 200)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}, SnapshotVolumes: ptr(false)})
	e.reconcileBackup(t, "b1")

	b := e.getBackup(t, "b1")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("phase %s (%s), want Completed", b.Status.Phase, b.Status.FailureReason)
	}
	if got := b.Status.ResourceCounts["configmaps"]; got != 200 {
		t.Errorf("configmaps backed up: %d, want 200", got)
	}
	if keys := e.bucket.Keys("ark", "b1/"); strings.Join(keys, ",") != "b1/ark-backup.json,b1/b1-logs.gz,b1/b1.tar.gz" {
		t.Errorf("bucket holds %v", keys)
	}
}

// Two servers that both see a new backup (two replicas, a stale cache) must
// not both run it: the claim New -> InProgress is optimistic, so exactly one
// writes the archive.
func TestBackupReconcilerClaimsOnce(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 20)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	var puts sync.Map
	e.bucket.FailPut = func(_, key string) error {
		n, _ := puts.LoadOrStore(key, new(int))
		*(n.(*int))++
		return nil
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := e.backupReconciler().Reconcile(context.Background(), e.key("b1")); err != nil {
				t.Errorf("reconcile: %v", err)
			}
		})
	}
	wg.Wait()
	n, _ := puts.Load("b1/b1.tar.gz")
	if n == nil || *(n.(*int)) != 1 {
		t.Fatalf("the archive was written %v times, want exactly once", n)
	}
	if b := e.getBackup(t, "b1"); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("phase %s (%s), want Completed", b.Status.Phase, b.Status.FailureReason)
	}
}

func TestBackupReconcilerFailureBranches(t *testing.T) {
	e := newReconcilerEnv(t)
	cfg, _ := e.settings.Config()

	t.Run("no Config: stays New", func(t *testing.T) {
		e.settings = memSettings(e.bucket, nil)
		defer func() { e.settings = memSettings(e.bucket, cfg) }()
		e.newBackup(t, "no-config", arkv1.BackupSpec{})
		res, err := e.backupReconciler().Reconcile(context.Background(), e.key("no-config"))
		if err != nil || res.RequeueAfter == 0 {
			t.Fatalf("result %+v, %v: want a requeue", res, err)
		}
		if p := e.getBackup(t, "no-config").Status.Phase; p != "" {
			t.Fatalf("phase %q, want it left New", p)
		}
	})

	t.Run("invalid Config: FailedValidation naming the fix", func(t *testing.T) {
		bad := cfg.DeepCopy()
		bad.BackupStorageProvider.Bucket = ""
		e.settings.Set(bad)
		defer e.settings.Set(cfg)
		e.newBackup(t, "bad-config", arkv1.BackupSpec{})
		e.reconcileBackup(t, "bad-config")
		b := e.getBackup(t, "bad-config")
		if b.Status.Phase != arkv1.BackupPhaseFailedValidation || len(b.Status.ValidationErrors) != 1 ||
			!strings.Contains(b.Status.ValidationErrors[0], "backupStorageProvider.bucket is empty") {
			t.Fatalf("status %+v", b.Status)
		}
	})

	t.Run("invalid spec: every problem listed", func(t *testing.T) {
		e.newBackup(t, "bad-spec", arkv1.BackupSpec{IncludedResources: []string{"nosuchthings"},
			IncludedNamespaces: []string{"a"}, ExcludedNamespaces: []string{"a"}, SnapshotVolumes: ptr(true)})
		e.reconcileBackup(t, "bad-spec")
		b := e.getBackup(t, "bad-spec")
		if b.Status.Phase != arkv1.BackupPhaseFailedValidation || len(b.Status.ValidationErrors) != 3 {
			t.Fatalf("status %+v, want FailedValidation with 3 problems", b.Status)
		}
	})

	t.Run("refused credentials: Failed with the provider's message", func(t *testing.T) {
		e.settings.Factory.ObjectStore = func(string, map[string]string) (objectstore.ObjectStore, error) {
			return nil, fmt.Errorf("NoCredentialProviders: fix the cloud-credentials secret: %w", objectstore.ErrAccessDenied)
		}
		defer func() { e.settings = memSettings(e.bucket, cfg) }()
		e.newBackup(t, "no-creds", arkv1.BackupSpec{})
		e.reconcileBackup(t, "no-creds")
		b := e.getBackup(t, "no-creds")
		if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "NoCredentialProviders") {
			t.Fatalf("status %+v", b.Status)
		}
	})

	t.Run("missing bucket: Failed, nothing written", func(t *testing.T) {
		other := cfg.DeepCopy()
		other.BackupStorageProvider.Bucket = "no-such-bucket"
		e.settings.Set(other)
		defer e.settings.Set(cfg)
		e.newBackup(t, "no-bucket", arkv1.BackupSpec{})
		e.reconcileBackup(t, "no-bucket")
		b := e.getBackup(t, "no-bucket")
		if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "bucket") {
			t.Fatalf("status %+v", b.Status)
		}
	})

	t.Run("archive upload fails: Failed, the partial archive removed, the log kept", func(t *testing.T) {
		e.bucket.FailPut = func(_, key string) error {
			if strings.HasSuffix(key, ".tar.gz") {
				return errors.New("injected: connection reset")
			}
			return nil
		}
		defer func() { e.bucket.FailPut = nil }()
		e.newBackup(t, "upload-fails", arkv1.BackupSpec{IncludedNamespaces: []string{"default"}})
		e.reconcileBackup(t, "upload-fails")
		b := e.getBackup(t, "upload-fails")
		if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "injected: connection reset") {
			t.Fatalf("status %+v", b.Status)
		}
		if keys := e.bucket.Keys("ark", "upload-fails/"); strings.Join(keys, ",") != "upload-fails/upload-fails-logs.gz" {
			t.Fatalf("bucket holds %v, want only the log", keys)
		}
	})

	t.Run("metadata upload fails: Failed and everything this run wrote removed", func(t *testing.T) {
		e.bucket.FailPut = func(_, key string) error {
			if strings.HasSuffix(key, "ark-backup.json") {
				return errors.New("injected: quota exceeded")
			}
			return nil
		}
		defer func() { e.bucket.FailPut = nil }()
		e.newBackup(t, "meta-fails", arkv1.BackupSpec{IncludedNamespaces: []string{"default"}})
		e.reconcileBackup(t, "meta-fails")
		b := e.getBackup(t, "meta-fails")
		if b.Status.Phase != arkv1.BackupPhaseFailed || !strings.Contains(b.Status.FailureReason, "quota exceeded") {
			t.Fatalf("status %+v", b.Status)
		}
		if keys := e.bucket.Keys("ark", "meta-fails/"); len(keys) != 0 {
			t.Fatalf("bucket holds %v, want nothing of the failed backup", keys)
		}
	})

	t.Run("restore-only mode: FailedValidation", func(t *testing.T) {
		ro := cfg.DeepCopy()
		ro.RestoreOnlyMode = true
		e.settings.Set(ro)
		defer e.settings.Set(cfg)
		e.newBackup(t, "restore-only", arkv1.BackupSpec{})
		e.reconcileBackup(t, "restore-only")
		b := e.getBackup(t, "restore-only")
		if b.Status.Phase != arkv1.BackupPhaseFailedValidation || !strings.Contains(strings.Join(b.Status.ValidationErrors, ""), "restore-only mode") {
			t.Fatalf("status %+v", b.Status)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// A tenant's pods may quote claims of any name length (the API server only
// requires claimName to be non-empty). Backing up pods that name missing
// claims of 200 KiB each, through a real API server, must still record the
// backup Completed: the problems the status quotes are clipped, so the final
// status write stays within what the API server accepts.
func TestBackupOfHugeClaimNamesIsRecorded(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-huge"
	e.createNamespace(t, src)
	ctx := context.Background()
	// The ServiceAccount admission plugin wants the pods' account to exist.
	if err := e.client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: fmt.Sprintf("pod-%d", i)},
			Spec: corev1.PodSpec{
				AutomountServiceAccountToken: ptr(false),
				Containers:                   []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: fmt.Sprintf("%d-%s", i, strings.Repeat("c", 200<<10))}}}},
			},
		}
		if err := e.client.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	e.newBackup(t, "huge", arkv1.BackupSpec{IncludedNamespaces: []string{src}, SnapshotVolumes: ptr(false)})
	e.reconcileBackup(t, "huge")
	b := e.getBackup(t, "huge")
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.ResourceCounts["pods"] != 10 {
		t.Fatalf("phase %s (%s), pods %d: want Completed with the 10 pods", b.Status.Phase, b.Status.FailureReason, b.Status.ResourceCounts["pods"])
	}
	if len(b.Status.Problems) != 10 || b.Status.Warnings != 10 {
		t.Fatalf("warnings %d, problems recorded %d: want one per missing claim", b.Status.Warnings, len(b.Status.Problems))
	}
}
