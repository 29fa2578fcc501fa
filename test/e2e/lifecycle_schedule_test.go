package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// scheduledBackups returns the run times of the backups a schedule made
// (parsed from their names), sorted, and the backups by run time.
func scheduledBackups(t *testing.T, env *harness.Env, schedule string) ([]time.Time, map[time.Time]arkv1.Backup) {
	t.Helper()
	var list arkv1.BackupList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(harness.Namespace),
		client.MatchingLabels{arkv1.ScheduleNameLabel: schedule}); err != nil {
		t.Fatal(err)
	}
	byTime := map[time.Time]arkv1.Backup{}
	var times []time.Time
	for _, b := range list.Items {
		stamp, ok := strings.CutPrefix(b.Name, schedule+"-")
		if !ok {
			continue // made with `ark backup create --from-schedule`
		}
		due, err := time.Parse("20060102150405", stamp)
		if err != nil {
			t.Fatalf("backup %s: the name does not end in a UTC run time: %v", b.Name, err)
		}
		if _, dup := byTime[due]; dup {
			t.Fatalf("two backups for run time %s", due)
		}
		byTime[due] = b
		times = append(times, due)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times, byTime
}

// TestLifecycleSchedule: a schedule makes its backups on time, labelled and
// with its template; a server restart neither repeats a run time nor
// replays the missed ones (one catch-up backup for the latest); bad cron
// fails validation with the parser's message; the CLI's schedule commands
// and `backup create --from-schedule` work.
func TestLifecycleSchedule(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{ServerArgs: fastSyncArgs})
	ctx := context.Background()
	createAppNamespace(t, env, "sched-app", 3)

	// A 5-field cron (every minute) runs alongside, to check minute-aligned
	// names; the @every schedule is the one timed closely.
	out := env.MustArk("schedule", "create", "minutely", "--schedule", "* * * * *", "--include-namespaces", "sched-app")
	if !strings.Contains(out, `Schedule "minutely" created`) {
		t.Fatalf("schedule create said:\n%s", out)
	}
	const period = 5 * time.Second
	env.MustArk("create", "schedule", "fast", "--schedule", "@every 5s", "--include-namespaces", "sched-app",
		"--exclude-resources", "secrets", "--ttl", "2h", "--snapshot-volumes=false")

	// Bad input: rejected by the CLI with the parser's message, and by the
	// server for a Schedule created some other way.
	r := env.Ark("schedule", "create", "bad", "--schedule", "every 6 hours")
	if r.Err == nil || !strings.Contains(r.Output(), "expected exactly 5 fields") || !strings.Contains(r.Output(), `"0 */6 * * *"`) {
		t.Fatalf("ark schedule create with a bad cron: err %v\n%s", r.Err, r.Output())
	}
	bad := &arkv1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "bad"},
		Spec: arkv1.ScheduleSpec{Schedule: "61 * * * *"}}
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "schedule bad FailedValidation", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(bad), bad)
		return bad.Status.Phase == arkv1.SchedulePhaseFailedValidation, err
	})
	if len(bad.Status.ValidationErrors) != 1 || !strings.Contains(bad.Status.ValidationErrors[0], "above maximum") ||
		!strings.Contains(bad.Status.ValidationErrors[0], "@every 6h") {
		t.Fatalf("validation errors %v lack the parser's message and an example", bad.Status.ValidationErrors)
	}
	if d := env.MustArk("schedule", "describe", "bad"); !strings.Contains(d, "FailedValidation") || !strings.Contains(d, "above maximum") {
		t.Fatalf("describe of a bad schedule:\n%s", d)
	}

	// Three runs in a row.
	env.Eventually(2*time.Minute, "three backups of schedule fast", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "fast")
		return len(times) >= 3, nil
	})
	var s arkv1.Schedule
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "fast"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Status.Phase != arkv1.SchedulePhaseEnabled {
		t.Fatalf("schedule phase %q, want Enabled", s.Status.Phase)
	}
	times, byTime := scheduledBackups(t, env, "fast")
	for i, due := range times {
		b := byTime[due]
		if b.CreationTimestamp.Time.Before(due) {
			t.Errorf("backup %s was created at %s, before its run time", b.Name, b.CreationTimestamp.UTC())
		}
		if i > 0 && due.Sub(times[i-1]) != period {
			t.Errorf("run times %s and %s are not %s apart: a run was skipped or added while the server ran", times[i-1], due, period)
		}
		if len(b.Spec.IncludedNamespaces) != 1 || b.Spec.IncludedNamespaces[0] != "sched-app" ||
			len(b.Spec.ExcludedResources) != 1 || b.Spec.TTL.Duration != 2*time.Hour ||
			b.Spec.SnapshotVolumes == nil || *b.Spec.SnapshotVolumes {
			t.Errorf("backup %s does not have the schedule's template: %+v", b.Name, b.Spec)
		}
	}
	// @every runs are anchored at the schedule's creation (whole seconds).
	if want := s.CreationTimestamp.Add(period).UTC(); !times[0].Equal(want) {
		t.Errorf("first run time %s, want %s: one period after the schedule's creation", times[0], want)
	}
	waitBackupPhase(env, byTime[times[0]].Name, 2*time.Minute, arkv1.BackupPhaseCompleted)

	// The CLI.
	if got := env.MustArk("get", "schedules"); !strings.Contains(got, "fast") || !strings.Contains(got, "@every 5s") ||
		!strings.Contains(got, "Enabled") || !strings.Contains(got, "LAST BACKUP") {
		t.Fatalf("ark get schedules:\n%s", got)
	}
	var fromJSON arkv1.Schedule
	if err := json.Unmarshal([]byte(env.MustArk("schedule", "get", "fast", "-o", "json")), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if fromJSON.Spec.Schedule != "@every 5s" || fromJSON.Kind != "Schedule" {
		t.Fatalf("schedule get -o json: %+v", fromJSON)
	}
	if y := env.MustArk("schedule", "get", "-o", "yaml"); !strings.Contains(y, "schedule: '@every 5s'") || !strings.Contains(y, "name: minutely") {
		t.Fatalf("schedule get -o yaml:\n%s", y)
	}
	if d := env.MustArk("describe", "schedules", "fast"); !strings.Contains(d, "Phase:  Enabled") || !strings.Contains(d, "Next run:") ||
		!strings.Contains(d, byTime[times[0]].Name) {
		t.Fatalf("describe schedule:\n%s", d)
	}

	// --from-schedule: a backup now with the schedule's template and label.
	mustBackup(t, env, "adhoc", "--from-schedule", "fast")
	adhoc, err := getBackup(env, "adhoc")
	if err != nil {
		t.Fatal(err)
	}
	if adhoc.Labels[arkv1.ScheduleNameLabel] != "fast" || adhoc.Spec.TTL.Duration != 2*time.Hour || adhoc.Spec.IncludedNamespaces[0] != "sched-app" {
		t.Fatalf("backup --from-schedule: labels %v spec %+v", adhoc.Labels, adhoc.Spec)
	}

	// A restart: the server is down for more than two periods.
	env.StopServer()
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "fast"}, &s); err != nil {
		t.Fatal(err)
	}
	last := s.Status.LastBackup.Time.UTC()
	beforeRestart, _ := scheduledBackups(t, env, "fast")
	if !beforeRestart[len(beforeRestart)-1].Equal(last) {
		t.Fatalf("lastBackup %s is not the latest backup's run time %s", last, beforeRestart[len(beforeRestart)-1])
	}
	time.Sleep(3*period + time.Second)
	restartedAt := time.Now()
	env.StartServer()
	env.Eventually(time.Minute, "backups after the restart", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "fast")
		return len(times) >= len(beforeRestart)+2, nil
	})
	times, byTime = scheduledBackups(t, env, "fast")
	after := times[len(beforeRestart):]
	for i, due := range times[:len(beforeRestart)] {
		if !due.Equal(beforeRestart[i]) {
			t.Fatalf("run times before the restart changed: %v, then %v", beforeRestart, times)
		}
	}
	catchUp := after[0]
	// The missed run times last+5s, last+10s, last+15s: only the latest one
	// before the restart gets a backup.
	if catchUp.Sub(last)%period != 0 || catchUp.Sub(last) < 3*period {
		t.Fatalf("after the restart the first backup is for %s; the last before was %s and the server restarted at %s: want one catch-up for the latest missed run time, no replay",
			catchUp, last, restartedAt.UTC())
	}
	for i := 1; i < len(after); i++ {
		if after[i].Sub(after[i-1]) != period {
			t.Errorf("run times after the restart %v are not %s apart", after, period)
		}
	}
	if c := byTime[catchUp].CreationTimestamp.Time; c.Before(restartedAt.Add(-time.Second)) {
		t.Errorf("catch-up backup created at %s, before the restart at %s", c.UTC(), restartedAt.UTC())
	}
	t.Logf("schedule fast: last run before the stop %s, server restarted %s, catch-up run %s, then %v",
		last.Format(time.TimeOnly), restartedAt.UTC().Format(time.TimeOnly), catchUp.Format(time.TimeOnly), after[1:])

	// The minutely cron schedule's backups fall on whole minutes.
	env.Eventually(2*time.Minute, "a backup of schedule minutely", func() (bool, error) {
		times, _ := scheduledBackups(t, env, "minutely")
		return len(times) > 0, nil
	})
	minTimes, _ := scheduledBackups(t, env, "minutely")
	for _, due := range minTimes {
		if due.Second() != 0 {
			t.Errorf("cron * * * * * made a backup for %s, not a whole minute", due)
		}
	}

	// Deleting a schedule keeps its backups and stops new ones.
	out = env.MustArk("schedule", "delete", "fast", "minutely")
	if !strings.Contains(out, `Schedule "fast" deleted`) || !strings.Contains(out, "ark-schedule=fast") {
		t.Fatalf("schedule delete said:\n%s", out)
	}
	env.Eventually(30*time.Second, "schedule fast gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "fast"}, &arkv1.Schedule{})
		return client.IgnoreNotFound(err) == nil && err != nil, nil
	})
	kept, _ := scheduledBackups(t, env, "fast")
	time.Sleep(2 * period)
	if now, _ := scheduledBackups(t, env, "fast"); len(now) != len(kept) {
		t.Fatalf("schedule deleted, yet backups went from %d to %d", len(kept), len(now))
	}
	if len(kept) < len(times) {
		t.Fatalf("deleting the schedule removed backups: %d before, %d after", len(times), len(kept))
	}
}
