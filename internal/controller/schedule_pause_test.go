package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

func setPaused(t *testing.T, c client.Client, paused bool, annotations map[string]string) {
	t.Helper()
	s := getSchedule(t, c)
	orig := s.DeepCopy()
	s.Spec.Paused = paused
	s.Annotations = annotations
	if err := c.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
}

// A paused schedule makes no backups; unpaused, it skips what it missed,
// unless asked for a catch-up backup.
func TestSchedulePauseSkipsMissedRunsUnlessCatchUp(t *testing.T) {
	created := mustTime(t, "2026-03-01T10:00:00Z")
	r, c, clock := newScheduleFixture(t, "0 * * * *", created, arkv1.Config{})
	clock.t = mustTime(t, "2026-03-01T11:00:01Z")
	reconcileSchedule(t, r)
	if n := backupNames(t, c); strings.Join(n, ",") != "daily-20260301110000" {
		t.Fatalf("backups %v", n)
	}

	setPaused(t, c, true, nil)
	clock.t = mustTime(t, "2026-03-01T11:30:00Z")
	reconcileSchedule(t, r)
	if s := getSchedule(t, c); s.Status.PausedSince == nil || !s.Status.PausedSince.Time.Equal(clock.t) {
		t.Fatalf("pausedSince %v, want %s", s.Status.PausedSince, clock.t)
	}
	clock.t = mustTime(t, "2026-03-01T14:10:00Z")
	reconcileSchedule(t, r)
	if n := backupNames(t, c); len(n) != 1 {
		t.Fatalf("a paused schedule made backups: %v", n)
	}

	// Unpaused at 14:20: 12:00, 13:00 and 14:00 are skipped; 15:00 is next.
	setPaused(t, c, false, nil)
	clock.t = mustTime(t, "2026-03-01T14:20:00Z")
	res := reconcileSchedule(t, r)
	s := getSchedule(t, c)
	if n := backupNames(t, c); len(n) != 1 {
		t.Fatalf("unpausing made a catch-up backup: %v", n)
	}
	if s.Status.PausedSince != nil || s.Status.LastSkipped == nil || !s.Status.LastSkipped.Time.Equal(clock.t) {
		t.Fatalf("status after unpausing: %+v", s.Status)
	}
	if res.RequeueAfter != time.Minute {
		t.Errorf("requeue after %s", res.RequeueAfter)
	}
	clock.t = mustTime(t, "2026-03-01T15:00:03Z")
	reconcileSchedule(t, r)
	if n := backupNames(t, c); strings.Join(n, ",") != "daily-20260301110000,daily-20260301150000" {
		t.Fatalf("backups %v, want the 15:00 run next", n)
	}

	// Paused again, unpaused with the catch-up annotation: one backup for
	// the latest run missed (18:00), and the annotation is removed.
	setPaused(t, c, true, nil)
	clock.t = mustTime(t, "2026-03-01T15:10:00Z")
	reconcileSchedule(t, r)
	setPaused(t, c, false, map[string]string{arkv1.CatchUpAnnotation: "true"})
	clock.t = mustTime(t, "2026-03-01T18:30:00Z")
	reconcileSchedule(t, r)
	if n := backupNames(t, c); strings.Join(n, ",") != "daily-20260301110000,daily-20260301150000,daily-20260301180000" {
		t.Fatalf("backups %v, want one catch-up backup for 18:00", n)
	}
	if s := getSchedule(t, c); s.Annotations[arkv1.CatchUpAnnotation] != "" || s.Status.PausedSince != nil {
		t.Fatalf("after the catch-up: annotations %v, status %+v", s.Annotations, s.Status)
	}
}

func TestScheduledBackupsOwnedBySchedule(t *testing.T) {
	created := mustTime(t, "2026-03-01T10:00:00Z")
	r, c, clock := newScheduleFixture(t, "0 * * * *", created, arkv1.Config{})
	s := getSchedule(t, c)
	orig := s.DeepCopy()
	s.Spec.UseOwnerReferencesInBackup = true
	s.UID = "sched-uid" // the fake client sets none
	if err := c.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	clock.t = mustTime(t, "2026-03-01T11:00:01Z")
	reconcileSchedule(t, r)
	var b arkv1.Backup
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "heptio-ark", Name: "daily-20260301110000"}, &b); err != nil {
		t.Fatal(err)
	}
	refs := b.OwnerReferences
	if len(refs) != 1 || refs[0].Kind != "Schedule" || refs[0].APIVersion != "ark.heptio.com/v1" || refs[0].Name != "daily" ||
		refs[0].UID != getSchedule(t, c).UID || refs[0].Controller == nil || !*refs[0].Controller {
		t.Fatalf("owner references %+v", refs)
	}
}

// The cleaner asks for the deletion of an owned backup's data only when its
// schedule is gone, once, and not for a backup that stored nothing.
func TestOwnedBackupCleaner(t *testing.T) {
	sched := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "live", UID: "live-uid"}}
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(sched).Build()
	r := &OwnedBackupCleaner{Client: c, Settings: settingsWith(arkv1.Config{}), Log: discardLog()}
	ctx := context.Background()
	requests := func() []string {
		var l arkv1.DeleteBackupRequestList
		if err := c.List(ctx, &l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range l.Items {
			out = append(out, d.Spec.BackupName)
		}
		return out
	}
	for _, req := range []ownedBackupGone{
		{Namespace: "heptio-ark", Backup: "kept", Schedule: "live", ScheduleUID: "live-uid", Phase: arkv1.BackupPhaseCompleted},
		{Namespace: "heptio-ark", Backup: "never-ran", Schedule: "gone", ScheduleUID: "gone-uid", Phase: arkv1.BackupPhaseFailedValidation},
		{Namespace: "heptio-ark", Backup: "orphan", Schedule: "gone", ScheduleUID: "gone-uid", Phase: arkv1.BackupPhaseCompleted},
		{Namespace: "heptio-ark", Backup: "orphan", Schedule: "gone", ScheduleUID: "gone-uid", Phase: arkv1.BackupPhaseCompleted},
		// A schedule of the same name, created again, is not the owner.
		{Namespace: "heptio-ark", Backup: "old-live", Schedule: "live", ScheduleUID: "older-uid", Phase: arkv1.BackupPhasePartiallyFailed},
	} {
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(requests(), ","); got != "old-live,orphan" && got != "orphan,old-live" {
		t.Fatalf("deletion requests for %q, want orphan and old-live, once each", got)
	}

	// In restore-only mode, nothing is requested.
	r.Settings = settingsWith(arkv1.Config{RestoreOnlyMode: true})
	if _, err := r.Reconcile(ctx, ownedBackupGone{Namespace: "heptio-ark", Backup: "dr", Schedule: "gone", ScheduleUID: "gone-uid", Phase: arkv1.BackupPhaseCompleted}); err != nil {
		t.Fatal(err)
	}
	if len(requests()) != 2 {
		t.Fatalf("restore-only mode requested a deletion: %v", requests())
	}
}
