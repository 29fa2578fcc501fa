package controller

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/schedule"
	"github.com/heptio/ark/internal/settings"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fakeClock is a settable clock for the reconciler.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func testScheme() *runtime.Scheme { return arkv1.NewScheme() }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// settingsWith makes Settings for cfg whose object store is never used.
func settingsWith(cfg arkv1.Config) *settings.Settings {
	if cfg.BackupStorageProvider.Name == "" {
		cfg.BackupStorageProvider.Name, cfg.BackupStorageProvider.Bucket = "unused", "unused"
	}
	s := &settings.Settings{Factory: settings.Factory{
		ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) { return nil, nil },
	}}
	s.Set(&cfg)
	return s
}

func newScheduleFixture(t *testing.T, spec string, created time.Time, cfg arkv1.Config) (*ScheduleReconciler, client.Client, *fakeClock) {
	t.Helper()
	sched := &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "daily", CreationTimestamp: metav1.NewTime(created)},
		Spec: arkv1.ScheduleSpec{Schedule: spec, Template: arkv1.BackupSpec{
			IncludedNamespaces: []string{"team-a"}, TTL: metav1.Duration{Duration: 48 * time.Hour},
		}},
	}
	c := fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(sched).
		WithStatusSubresource(&arkv1.Schedule{}, &arkv1.Backup{}).Build()
	clock := &fakeClock{t: created}
	r := &ScheduleReconciler{Client: c, Settings: settingsWith(cfg), Log: discardLog(), Now: clock.Now}
	return r, c, clock
}

func reconcileSchedule(t *testing.T, r *ScheduleReconciler) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "heptio-ark", Name: "daily"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func backupNames(t *testing.T, c client.Client) []string {
	t.Helper()
	var list arkv1.BackupList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.Items {
		names = append(names, b.Name)
	}
	return names
}

func getSchedule(t *testing.T, c client.Client) *arkv1.Schedule {
	t.Helper()
	var s arkv1.Schedule
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "heptio-ark", Name: "daily"}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestScheduleReconcilerRunsOncePerRunTime(t *testing.T) {
	created := mustTime(t, "2026-03-01T10:17:05Z")
	r, c, clock := newScheduleFixture(t, "0 * * * *", created, arkv1.Config{})

	clock.Advance(10 * time.Minute)
	res := reconcileSchedule(t, r)
	if s := getSchedule(t, c); s.Status.Phase != arkv1.SchedulePhaseEnabled || s.Status.LastBackup != nil {
		t.Fatalf("status %+v, want Enabled and no backup yet", s.Status)
	}
	if n := backupNames(t, c); len(n) != 0 {
		t.Fatalf("backups %v before the first run time", n)
	}
	if res.RequeueAfter != time.Minute {
		t.Errorf("requeue after %s, want the 1m schedule sync period (next run is 33m away)", res.RequeueAfter)
	}

	clock.t = mustTime(t, "2026-03-01T10:59:30Z")
	if res := reconcileSchedule(t, r); res.RequeueAfter != 30*time.Second {
		t.Errorf("requeue after %s, want 30s: the next run time", res.RequeueAfter)
	}

	clock.t = mustTime(t, "2026-03-01T11:00:02Z")
	reconcileSchedule(t, r)
	names := backupNames(t, c)
	if len(names) != 1 || names[0] != "daily-20260301110000" {
		t.Fatalf("backups %v, want [daily-20260301110000]", names)
	}
	var b arkv1.Backup
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "heptio-ark", Name: names[0]}, &b); err != nil {
		t.Fatal(err)
	}
	if b.Labels[arkv1.ScheduleNameLabel] != "daily" || len(b.Spec.IncludedNamespaces) != 1 || b.Spec.TTL.Duration != 48*time.Hour {
		t.Fatalf("backup does not carry the label and template: %+v %+v", b.Labels, b.Spec)
	}
	if s := getSchedule(t, c); s.Status.LastBackup == nil || !s.Status.LastBackup.Time.Equal(mustTime(t, "2026-03-01T11:00:00Z")) {
		t.Fatalf("lastBackup %v, want the run time 11:00:00", s.Status.LastBackup)
	}

	// Reconciled again for the same run time: nothing new.
	reconcileSchedule(t, r)
	if n := backupNames(t, c); len(n) != 1 {
		t.Fatalf("backups %v after a second pass at the same time", n)
	}

	// A crash after creating the backup but before recording it: the
	// restarted server computes the same name and only records it.
	s := getSchedule(t, c)
	orig := s.DeepCopy()
	s.Status.LastBackup = nil
	if err := c.Status().Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	reconcileSchedule(t, r)
	if n := backupNames(t, c); len(n) != 1 {
		t.Fatalf("backups %v: a restart made a second backup for one run time", n)
	}
	if s := getSchedule(t, c); s.Status.LastBackup == nil || !s.Status.LastBackup.Time.Equal(mustTime(t, "2026-03-01T11:00:00Z")) {
		t.Fatalf("lastBackup %v not recorded after AlreadyExists", s.Status.LastBackup)
	}

	// Down for five hours and a half: one catch-up backup, for 16:00.
	clock.t = mustTime(t, "2026-03-01T16:31:00Z")
	res = reconcileSchedule(t, r)
	names = backupNames(t, c)
	if len(names) != 2 || names[1] != "daily-20260301160000" {
		t.Fatalf("backups %v, want one catch-up backup daily-20260301160000", names)
	}
	if res.RequeueAfter != time.Minute {
		t.Errorf("requeue after %s, want 1m", res.RequeueAfter)
	}
}

func TestScheduleReconcilerEveryIsAnchoredAtLastBackup(t *testing.T) {
	created := mustTime(t, "2026-03-01T10:00:00.5Z")
	r, c, clock := newScheduleFixture(t, "@every 5s", created, arkv1.Config{})
	var want []string
	for i := 0; i < 4; i++ {
		clock.Advance(5 * time.Second)
		res := reconcileSchedule(t, r)
		if res.RequeueAfter != 4500*time.Millisecond {
			t.Errorf("requeue after %s, want 4.5s: runs fall on whole seconds", res.RequeueAfter)
		}
		want = append(want, schedule.BackupName("daily", mustTime(t, "2026-03-01T10:00:00Z").Add(time.Duration(i+1)*5*time.Second)))
	}
	if got := backupNames(t, c); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("backups %v, want %v", got, want)
	}
}

func TestScheduleReconcilerValidation(t *testing.T) {
	r, c, _ := newScheduleFixture(t, "every 6 hours", mustTime(t, "2026-03-01T10:00:00Z"), arkv1.Config{})
	reconcileSchedule(t, r)
	s := getSchedule(t, c)
	if s.Status.Phase != arkv1.SchedulePhaseFailedValidation || len(s.Status.ValidationErrors) != 1 ||
		!strings.Contains(s.Status.ValidationErrors[0], "expected exactly 5 fields") {
		t.Fatalf("status %+v, want FailedValidation with the parser's message", s.Status)
	}
	// Fixing the spec enables it.
	orig := s.DeepCopy()
	s.Spec.Schedule = "@daily"
	if err := c.Patch(context.Background(), s, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	reconcileSchedule(t, r)
	if s := getSchedule(t, c); s.Status.Phase != arkv1.SchedulePhaseEnabled || len(s.Status.ValidationErrors) != 0 {
		t.Fatalf("status %+v after fixing the schedule, want Enabled", s.Status)
	}
}

func TestScheduleReconcilerRestoreOnlyMode(t *testing.T) {
	created := mustTime(t, "2026-03-01T10:00:00Z")
	r, c, clock := newScheduleFixture(t, "* * * * *", created, arkv1.Config{RestoreOnlyMode: true})
	clock.Advance(time.Hour)
	res := reconcileSchedule(t, r)
	if n := backupNames(t, c); len(n) != 0 {
		t.Fatalf("restore-only mode made backups %v", n)
	}
	if s := getSchedule(t, c); s.Status.Phase != "" {
		t.Fatalf("restore-only mode changed the schedule's status: %+v", s.Status)
	}
	if res.RequeueAfter != time.Minute {
		t.Errorf("requeue after %s, want the schedule sync period", res.RequeueAfter)
	}
	// Turned off: one catch-up backup for the latest minute.
	r.Settings = settingsWith(arkv1.Config{})
	reconcileSchedule(t, r)
	if n := backupNames(t, c); len(n) != 1 || n[0] != "daily-20260301110000" {
		t.Fatalf("backups %v after leaving restore-only mode, want [daily-20260301110000]", n)
	}
}
