package controller

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/settings"
)

// lockedBuffer is a log destination the reconcilers may write concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *reconcilerEnv) verifier(log io.Writer, now func() time.Time) *BackupVerifier {
	return &BackupVerifier{Client: e.client, APIReader: e.client, Namespace: e.namespace, Settings: e.settings,
		Log: slog.New(slog.NewTextHandler(log, nil)), Now: now}
}

func (e *reconcilerEnv) verifyNow(t *testing.T, v *BackupVerifier, name string) time.Duration {
	t.Helper()
	res, err := v.Reconcile(context.Background(), e.key(name))
	if err != nil {
		t.Fatalf("verify %s: %v", name, err)
	}
	return res.RequeueAfter
}

func verifiedCondition(t *testing.T, b *arkv1.Backup) *metav1.Condition {
	t.Helper()
	return meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionVerified)
}

// A new backup is read back and verified once; it is not verified again
// before its period, and is when the period has passed: then a flipped
// byte, a rebuilt archive and a deleted one each turn the condition False
// with their reason, logged as an error naming the backup and the object.
func TestBackupVerifierVerifiesOnceThenEveryPeriod(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 5)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}, SnapshotVolumes: ptr(false)})
	e.reconcileBackup(t, "b1")

	clock := time.Now()
	now := func() time.Time { return clock }
	logs := &lockedBuffer{}
	v := e.verifier(logs, now)
	next := e.verifyNow(t, v, "b1")
	b := e.getBackup(t, "b1")
	c := verifiedCondition(t, b)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Verified" || !strings.Contains(c.Message, b.Status.Archive.SHA256) {
		t.Fatalf("after the first verification: %+v", c)
	}
	if b.Status.LastVerified == nil || next != settings.DefaultBackupVerificationPeriod {
		t.Fatalf("lastVerified %v, next in %s (want the weekly default)", b.Status.LastVerified, next)
	}

	// Not due yet: nothing read, nothing written.
	archiveKey := "b1/b1.tar.gz"
	original := e.bucket.Keys("ark", archiveKey)
	if len(original) != 1 {
		t.Fatalf("bucket: %v", e.bucket.Keys("ark", ""))
	}
	data := e.readObject(t, archiveKey)
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x01
	e.putObject(t, archiveKey, flipped)
	clock = clock.Add(24 * time.Hour)
	// (lastVerified is stored to the second.)
	if left := e.verifyNow(t, v, "b1"); left > 6*24*time.Hour || left < 6*24*time.Hour-2*time.Second {
		t.Errorf("a day later, next verification in %s, want 6 days", left)
	}
	if c := verifiedCondition(t, e.getBackup(t, "b1")); c.Status != metav1.ConditionTrue {
		t.Fatalf("verified again before its period: %+v", c)
	}

	cases := []struct {
		name   string
		damage func()
		reason string
	}{
		{"flipped byte", func() { e.putObject(t, archiveKey, flipped) }, "DigestMismatch"},
		{"deleted archive", func() { e.deleteObject(t, archiveKey) }, "ArchiveMissing"},
	}
	for _, tc := range cases {
		tc.damage()
		clock = clock.Add(8 * 24 * time.Hour)
		e.verifyNow(t, v, "b1")
		c := verifiedCondition(t, e.getBackup(t, "b1"))
		if c.Status != metav1.ConditionFalse || c.Reason != tc.reason {
			t.Errorf("%s: condition %+v, want False %s", tc.name, c, tc.reason)
		}
		if !strings.Contains(logs.String(), `level=ERROR msg="backup verification failed`) || !strings.Contains(logs.String(), "backup="+e.namespace+"/b1") ||
			!strings.Contains(logs.String(), `object="bucket ark, object b1/b1.tar.gz"`) || !strings.Contains(logs.String(), "reason="+tc.reason) {
			t.Errorf("%s: the failure must be logged as an error naming the backup and the object:\n%s", tc.name, logs.String())
		}
	}

	// Put back, it verifies again; the condition's transition time says
	// when it turned.
	e.putObject(t, archiveKey, data)
	clock = clock.Add(8 * 24 * time.Hour)
	e.verifyNow(t, v, "b1")
	b = e.getBackup(t, "b1")
	if c := verifiedCondition(t, b); c.Status != metav1.ConditionTrue || !c.LastTransitionTime.Time.Equal(b.Status.LastVerified.Time) {
		t.Errorf("restored archive: %+v, lastVerified %v", c, b.Status.LastVerified)
	}
}

// A backup with a deletion request under way is never verified, even when
// due: its files are going.
func TestBackupVerifierLeavesBackupsBeingDeleted(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 2)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}, SnapshotVolumes: ptr(false)})
	e.reconcileBackup(t, "b1")
	if err := e.client.Create(context.Background(), arkv1.NewDeleteBackupRequest(e.namespace, "b1")); err != nil {
		t.Fatal(err)
	}
	e.deleteObject(t, "b1/b1.tar.gz")
	v := e.verifier(io.Discard, nil)
	e.verifyNow(t, v, "b1")
	if b := e.getBackup(t, "b1"); b.Status.LastVerified != nil || len(b.Status.Conditions) != 0 {
		t.Fatalf("a backup being deleted was verified: %+v", b.Status)
	}
}

// Verifications run concurrently (the reconciler's workers) on separate
// backups without interfering: run with -race.
func TestBackupVerifierConcurrent(t *testing.T) {
	e := newReconcilerEnv(t)
	src := e.namespace + "-src"
	e.createNamespace(t, src)
	e.configMaps(t, src, 3)
	names := []string{"c1", "c2", "c3", "c4"}
	for _, n := range names {
		e.newBackup(t, n, arkv1.BackupSpec{IncludedNamespaces: []string{src}, SnapshotVolumes: ptr(false)})
		e.reconcileBackup(t, n)
	}
	v := e.verifier(io.Discard, nil)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			if _, err := v.Reconcile(context.Background(), e.key(n)); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		})
	}
	wg.Wait()
	for _, n := range names {
		if c := verifiedCondition(t, e.getBackup(t, n)); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("%s: %+v", n, c)
		}
	}
}

func (e *reconcilerEnv) readObject(t *testing.T, key string) []byte {
	t.Helper()
	rc, err := e.bucket.GetObject(context.Background(), "ark", key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (e *reconcilerEnv) putObject(t *testing.T, key string, data []byte) {
	t.Helper()
	if err := e.bucket.PutObject(context.Background(), "ark", key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func (e *reconcilerEnv) deleteObject(t *testing.T, key string) {
	t.Helper()
	if err := e.bucket.DeleteObject(context.Background(), "ark", key); err != nil {
		t.Fatal(err)
	}
}
