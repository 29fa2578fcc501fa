package controller

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

func TestGarbageCollectorRequestsDeletionOfExpiredBackups(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	backup := func(name string, phase arkv1.BackupPhase, expires time.Duration) *arkv1.Backup {
		b := finishedBackup(name, phase)
		e := metav1.NewTime(now.Add(expires))
		b.Status.Expiration = &e
		return b
	}
	pending := deletionRequest("pending-1", "pending", now)
	pending.Status.Phase = arkv1.DeleteBackupRequestPhaseInProgress
	failedBefore := deletionRequest("failed-1", "failed-before", now)
	failedBefore.Status = arkv1.DeleteBackupRequestStatus{Phase: arkv1.DeleteBackupRequestPhaseProcessed, Errors: []string{"boom"}}
	objs := []client.Object{
		backup("expired", arkv1.BackupPhaseCompleted, -time.Minute),
		backup("partly", arkv1.BackupPhasePartiallyFailed, -time.Second),
		backup("failed-before", arkv1.BackupPhaseDeleting, -time.Hour),
		backup("running", arkv1.BackupPhaseInProgress, -time.Minute),
		backup("fresh", arkv1.BackupPhaseCompleted, time.Minute),
		backup("pending", arkv1.BackupPhaseDeleting, -time.Minute),
		finishedBackup("no-expiration", arkv1.BackupPhaseCompleted),
		pending, failedBefore,
	}
	// Another tool's backup expires by that tool's rules, even where Ark
	// may write.
	velero := backup("velero-expired", arkv1.BackupPhaseCompleted, -time.Hour)
	velero.Status.Origin = &arkv1.BackupOrigin{Layout: arkv1.BackupLayoutVelero, WrittenBy: "Velero"}
	objs = append(objs, velero)
	store := backupstore.New(memstore.New("ark"), "ark", backupstore.Options{})
	newClient := func() client.Client {
		return fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).Build()
	}

	c := newClient()
	g := &GarbageCollector{Client: c, Namespace: "heptio-ark", Log: discardLog(), Now: func() time.Time { return now }}
	got := g.Collect(ctx, &settings.Environment{Config: &arkv1.Config{}, Store: store})
	sort.Strings(got)
	if want := []string{"expired", "failed-before", "partly"}; !slices.Equal(got, want) {
		t.Fatalf("requested deletion of %v, want %v", got, want)
	}
	var reqs arkv1.DeleteBackupRequestList
	if err := c.List(ctx, &reqs); err != nil {
		t.Fatal(err)
	}
	if len(reqs.Items) != 2+3 {
		t.Fatalf("%d requests, want the 2 existing and 3 new", len(reqs.Items))
	}
	for _, r := range reqs.Items {
		if r.Labels[arkv1.BackupNameLabel] != r.Spec.BackupName && r.Name != "pending-1" && r.Name != "failed-1" {
			t.Errorf("request %s is not labelled with its backup: %v", r.Name, r.Labels)
		}
	}

	c = newClient()
	g = &GarbageCollector{Client: c, Namespace: "heptio-ark", Log: discardLog(), Now: func() time.Time { return now }}
	if got := g.Collect(ctx, &settings.Environment{Config: &arkv1.Config{RestoreOnlyMode: true}, Store: store}); len(got) != 0 {
		t.Fatalf("restore-only mode requested deletions: %v", got)
	}

	// A location that holds another tool's backups is read-only: nothing
	// expires there, until the Config allows writes.
	mem := memstore.New("ark")
	if err := mem.PutObject(ctx, "ark", "backups/v1/velero-backup.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	c = newClient()
	g = &GarbageCollector{Client: c, Namespace: "heptio-ark", Log: discardLog(), Now: func() time.Time { return now }}
	shared := backupstore.New(mem, "ark", backupstore.Options{})
	if got := g.Collect(ctx, &settings.Environment{Config: &arkv1.Config{}, Store: shared}); len(got) != 0 {
		t.Fatalf("a read-only location had deletions requested: %v", got)
	}
	allowed := backupstore.New(mem, "ark", backupstore.Options{AllowWritesAlongsideOtherTools: true})
	got = g.Collect(ctx, &settings.Environment{Config: &arkv1.Config{}, Store: allowed})
	sort.Strings(got)
	if want := []string{"expired", "failed-before", "partly"}; !slices.Equal(got, want) {
		t.Fatalf("with writes allowed, requested deletion of %v, want %v", got, want)
	}
}

// GC applies each schedule's retention (its own, else the Config's) and
// never the newest Completed backup of a schedule, even expired.
func TestGarbageCollectorAppliesRetentionAndTheGuard(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	backup := func(name, schedule string, phase arkv1.BackupPhase, age, expires time.Duration) *arkv1.Backup {
		b := finishedBackup(name, phase)
		b.Labels = map[string]string{arkv1.ScheduleNameLabel: schedule}
		start, e := metav1.NewTime(now.Add(-age)), metav1.NewTime(now.Add(expires))
		b.Status.StartTimestamp, b.Status.Expiration = &start, &e
		return b
	}
	own := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "own"},
		Spec: arkv1.ScheduleSpec{Schedule: "@every 1h", Retention: &arkv1.RetentionPolicy{KeepLast: 2}}}
	inherits := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "inherits"},
		Spec: arkv1.ScheduleSpec{Schedule: "@every 1h"}}
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(own, inherits,
		backup("own-1", "own", arkv1.BackupPhaseCompleted, 3*time.Hour, time.Hour),
		backup("own-2", "own", arkv1.BackupPhaseCompleted, 2*time.Hour, time.Hour),
		backup("own-3", "own", arkv1.BackupPhaseCompleted, 1*time.Hour, time.Hour),
		backup("inh-1", "inherits", arkv1.BackupPhaseCompleted, 2*time.Hour, time.Hour),
		backup("inh-2", "inherits", arkv1.BackupPhaseCompleted, 1*time.Hour, time.Hour),
		// Every backup of "gone" (a deleted schedule) expired: its newest
		// Completed one stays, though a failed run is newer.
		backup("gone-1", "gone", arkv1.BackupPhaseCompleted, 3*time.Hour, -time.Hour),
		backup("gone-2", "gone", arkv1.BackupPhaseCompleted, 2*time.Hour, -time.Hour),
		backup("gone-3", "gone", arkv1.BackupPhaseFailed, 1*time.Hour, -time.Hour),
	).Build()
	g := &GarbageCollector{Client: c, Namespace: "heptio-ark", Log: discardLog(), Now: func() time.Time { return now }}
	cfg := &arkv1.Config{Retention: &arkv1.RetentionPolicy{KeepLast: 1}}
	env := &settings.Environment{Config: cfg, Store: backupstore.New(memstore.New("ark"), "ark", backupstore.Options{})}
	got := g.Collect(ctx, env)
	sort.Strings(got)
	if want := []string{"gone-1", "gone-3", "inh-1", "own-1"}; !slices.Equal(got, want) {
		t.Fatalf("requested deletion of %v, want %v", got, want)
	}
	// A second pass asks for nothing more: the requests are pending.
	if again := g.Collect(ctx, env); len(again) != 0 {
		t.Fatalf("second pass requested %v", again)
	}
}
