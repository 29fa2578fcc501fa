package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// controlsSchedule reads a Schedule.
func controlsSchedule(t *testing.T, env *harness.Env, name string) *arkv1.Schedule {
	t.Helper()
	var s arkv1.Schedule
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// TestScheduleControls: a paused schedule makes no backups and shows it in
// get and describe; unpaused, it skips the run times it missed, or makes one
// catch-up backup for the latest with --catch-up; describe lists the next
// five runs and the last backup of each phase; the backups of a schedule
// with --use-owner-references-in-backup are owned by it and go, data
// included, when it is deleted.
func TestScheduleControls(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{ServerArgs: fastSyncArgs})
	createAppNamespace(t, env, "sc-app", 2)
	const period = 5 * time.Second
	env.MustArk("schedule", "create", "sc-fast", "--schedule", "@every 5s", "--include-namespaces", "sc-app",
		"--use-owner-references-in-backup")
	env.MustArk("schedule", "create", "sc-cron", "--schedule", "0 3 * * *", "--include-namespaces", "sc-app")

	// describe: the next five runs of a cron schedule, one a day at 03:00.
	d := env.MustArk("schedule", "describe", "sc-cron")
	i := strings.Index(d, "Next runs:\n")
	if i < 0 {
		t.Fatalf("describe sc-cron lacks the next runs:\n%s", d)
	}
	lines := strings.Split(d[i+len("Next runs:\n"):], "\n")[:5]
	var prev time.Time
	for n, l := range lines {
		run, err := time.Parse(time.RFC3339, strings.TrimSpace(l))
		if err != nil || run.UTC().Hour() != 3 || run.Minute() != 0 || !run.After(time.Now()) || n > 0 && run.Sub(prev) != 24*time.Hour {
			t.Fatalf("next run %d %q (%v) is not the next 03:00 UTC a day after the one before:\n%s", n, l, err, d)
		}
		prev = run
	}
	if !strings.Contains(d, "Paused:       false") || !strings.Contains(d, "Owns its backups:    no") {
		t.Errorf("describe sc-cron:\n%s", d)
	}

	env.Eventually(2*time.Minute, "a Completed backup of sc-fast", func() (bool, error) {
		times, byTime := scheduledBackups(t, env, "sc-fast")
		for _, due := range times {
			if byTime[due].Status.Phase == arkv1.BackupPhaseCompleted {
				return true, nil
			}
		}
		return false, nil
	})
	s := controlsSchedule(t, env, "sc-fast")
	times, byTime := scheduledBackups(t, env, "sc-fast")
	for _, due := range times {
		b := byTime[due]
		if len(b.OwnerReferences) != 1 || b.OwnerReferences[0].Kind != "Schedule" || b.OwnerReferences[0].UID != s.UID ||
			b.OwnerReferences[0].Controller == nil || !*b.OwnerReferences[0].Controller {
			t.Errorf("backup %s owner references %+v: want schedule sc-fast (uid %s) as controller", b.Name, b.OwnerReferences, s.UID)
		}
	}

	// Paused: no backups, shown in get and describe.
	out := env.MustArk("schedule", "pause", "sc-fast")
	if !strings.Contains(out, `Schedule "sc-fast" paused`) {
		t.Fatalf("schedule pause said:\n%s", out)
	}
	env.Eventually(time.Minute, "the server sees sc-fast paused", func() (bool, error) {
		return controlsSchedule(t, env, "sc-fast").Status.PausedSince != nil, nil
	})
	before, _ := scheduledBackups(t, env, "sc-fast")
	time.Sleep(3 * period)
	if during, _ := scheduledBackups(t, env, "sc-fast"); len(during) != len(before) {
		t.Fatalf("sc-fast made backups while paused: %v, then %v", before, during)
	}
	if g := env.MustArk("schedule", "get"); !strings.Contains(g, "PAUSED") || !strings.Contains(strings.SplitN(g[strings.Index(g, "sc-fast"):], "\n", 2)[0], "true") {
		t.Errorf("schedule get does not show sc-fast paused:\n%s", g)
	}
	d = env.MustArk("schedule", "describe", "sc-fast")
	for _, want := range []string{"Paused:       true since", "Next runs:    none while paused", "Owns its backups:    yes", "Last backup of each phase:", "Completed:"} {
		if !strings.Contains(d, want) {
			t.Errorf("describe of paused sc-fast lacks %q:\n%s", want, d)
		}
	}

	// Unpaused: the missed run times are skipped.
	unpausedAt := time.Now()
	env.MustArk("schedule", "unpause", "sc-fast")
	env.Eventually(time.Minute, "a backup of sc-fast after the unpause", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "sc-fast")
		return len(times) > len(before), nil
	})
	times, _ = scheduledBackups(t, env, "sc-fast")
	if first := times[len(before)]; first.Before(unpausedAt.Add(-time.Second)) {
		t.Errorf("the first backup after the unpause at %s is for %s: a missed run time was caught up", unpausedAt.UTC(), first)
	}
	var skippedAfterFirst metav1.Time
	if s := controlsSchedule(t, env, "sc-fast"); s.Status.LastSkipped == nil || s.Status.PausedSince != nil || times[len(before)].Before(s.Status.LastSkipped.Time) {
		t.Fatalf("sc-fast status after the unpause: %+v; first backup after it for %s", s.Status, times[len(before)])
	} else {
		skippedAfterFirst = *s.Status.LastSkipped
	}

	// Paused again, then unpaused with --catch-up: one backup for the latest
	// missed run time, made after the unpause.
	env.MustArk("schedule", "pause", "--all")
	env.Eventually(time.Minute, "the server sees sc-fast paused again", func() (bool, error) {
		return controlsSchedule(t, env, "sc-fast").Status.PausedSince != nil, nil
	})
	before, _ = scheduledBackups(t, env, "sc-fast")
	time.Sleep(3 * period)
	unpausedAt = time.Now()
	out = env.MustArk("schedule", "unpause", "sc-fast", "--catch-up")
	if !strings.Contains(out, "one catch-up backup") {
		t.Fatalf("unpause --catch-up said:\n%s", out)
	}
	env.Eventually(time.Minute, "the catch-up backup of sc-fast", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "sc-fast")
		return len(times) > len(before), nil
	})
	// How late the server sees the unpause decides which run time is the
	// latest missed one, so what is checked is that the server took the
	// catch-up path (it says so, and lastSkipped stays as the first unpause
	// left it) and made exactly one backup, after the unpause, for a run
	// time it missed, with none for the earlier missed ones.
	serverLogHas(env, "one catch-up backup for the latest run time missed while paused", time.Minute)
	times, byTime = scheduledBackups(t, env, "sc-fast")
	catchUp := times[len(before)]
	if c := byTime[catchUp].CreationTimestamp.Time; c.Before(unpausedAt.Add(-time.Second)) || catchUp.After(c) ||
		catchUp.Sub(before[len(before)-1]) < 3*period {
		t.Errorf("catch-up backup for run time %s created %s; unpaused at %s, last backup before the pause for %s: want one for a missed run time, made after the unpause",
			catchUp, c.UTC(), unpausedAt.UTC(), before[len(before)-1])
	}
	if s := controlsSchedule(t, env, "sc-fast"); s.Status.LastSkipped == nil || !s.Status.LastSkipped.Equal(&skippedAfterFirst) {
		t.Errorf("lastSkipped %v after the catch-up unpause, want it unchanged (%s): the missed runs were skipped", s.Status.LastSkipped, skippedAfterFirst.UTC())
	}
	if _, ok := controlsSchedule(t, env, "sc-fast").Annotations[arkv1.CatchUpAnnotation]; ok {
		t.Errorf("the catch-up annotation stayed after the server acted on it")
	}
	if s := controlsSchedule(t, env, "sc-cron"); !s.Spec.Paused {
		t.Errorf("pause --all left sc-cron unpaused")
	}

	// Deleting the schedule deletes its backups, data included.
	env.MustArk("schedule", "pause", "sc-fast")
	env.Eventually(time.Minute, "the server sees sc-fast paused once more", func() (bool, error) {
		return controlsSchedule(t, env, "sc-fast").Status.PausedSince != nil, nil
	})
	owned, _ := scheduledBackups(t, env, "sc-fast")
	for _, due := range owned {
		waitBackupPhase(env, "sc-fast-"+due.Format("20060102150405"), 2*time.Minute, arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed, arkv1.BackupPhaseFailed)
	}
	if len(bucketObjects(t, env.Cluster.MinIO, env.Bucket, "sc-fast-")) == 0 {
		t.Fatalf("no data of sc-fast's backups in the bucket")
	}
	env.MustArk("schedule", "delete", "sc-fast")
	env.Eventually(3*time.Minute, "sc-fast's backups and their data gone", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "sc-fast")
		left := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "sc-fast-")
		return len(times) == 0 && len(left) == 0, nil
	})
	// The other schedule's backups (none) and the schedule itself stay.
	controlsSchedule(t, env, "sc-cron")
}
