package retention

import (
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
)

var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// scheduled is a backup of schedule "daily" that started at start and
// expires ttl later.
func scheduled(name string, phase arkv1.BackupPhase, start time.Time, ttl time.Duration) arkv1.Backup {
	b := arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{arkv1.ScheduleNameLabel: "daily"}}}
	b.Status.Phase = phase
	st := metav1.NewTime(start)
	b.Status.StartTimestamp = &st
	if ttl != 0 {
		e := metav1.NewTime(start.Add(ttl))
		b.Status.Expiration = &e
	}
	return b
}

func manual(b arkv1.Backup) arkv1.Backup {
	b.Labels = nil
	return b
}

func policy(p arkv1.RetentionPolicy) map[string]*arkv1.RetentionPolicy {
	return map[string]*arkv1.RetentionPolicy{"daily": &p}
}

// deleted returns the names decided Delete, sorted.
func deleted(d map[string]Decision) []string {
	var out []string
	for name, dec := range d {
		if dec.Verdict == Delete {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

const long = 100000 * time.Hour

func TestKeepLastDeletesTheOlderOnes(t *testing.T) {
	var backups []arkv1.Backup
	for i := range 6 {
		backups = append(backups, scheduled("b"+string(rune('1'+i)), arkv1.BackupPhaseCompleted, now.Add(time.Duration(i-6)*time.Minute), long))
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 3})})
	if got, want := deleted(d), []string{"b1", "b2", "b3"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if g := d["b6"].Guard; g != NewestCompleted.Name {
		t.Errorf("b6 guard %q, want the newest-Completed guard", g)
	}
	if got := d["b5"].KeptBy; !slices.Equal(got, []string{"keepLast (2 of 3)"}) {
		t.Errorf("b5 kept by %v", got)
	}
	if r := d["b1"].Reason; !strings.Contains(r, "kept by no retention rule of schedule daily (keepLast 3)") {
		t.Errorf("b1 reason %q", r)
	}
}

// The guard: when every backup has expired, the newest Completed one stays,
// even behind newer backups that failed or partially failed, and even
// outside the keep counts.
func TestGuardKeepsTheNewestCompletedWhateverTheSettings(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("c-old", arkv1.BackupPhaseCompleted, now.Add(-5*time.Hour), time.Minute),
		scheduled("c-newest", arkv1.BackupPhaseCompleted, now.Add(-4*time.Hour), time.Minute),
		scheduled("pf", arkv1.BackupPhasePartiallyFailed, now.Add(-3*time.Hour), time.Minute),
		scheduled("failed", arkv1.BackupPhaseFailed, now.Add(-2*time.Hour), time.Minute),
		scheduled("cancelled", arkv1.BackupPhaseCancelled, now.Add(-1*time.Hour), time.Minute),
		scheduled("running", arkv1.BackupPhaseInProgress, now.Add(-time.Minute), time.Nanosecond),
	}
	for _, p := range []*arkv1.RetentionPolicy{nil, {KeepLast: 1}, {KeepDaily: 1}} {
		d := Evaluate(Input{Now: now, Backups: backups, Policies: map[string]*arkv1.RetentionPolicy{"daily": p}})
		if got, want := deleted(d), []string{"c-old", "cancelled", "failed", "pf"}; !slices.Equal(got, want) {
			t.Fatalf("policy %s: deleted %v, want %v", Describe(p), got, want)
		}
		if d["c-newest"].Verdict != Keep || d["c-newest"].Guard == "" {
			t.Fatalf("policy %s: the newest Completed backup is not guarded: %+v", Describe(p), d["c-newest"])
		}
		if d["running"].Verdict != Unfinished {
			t.Fatalf("an expired InProgress backup got %s", d["running"].Verdict)
		}
	}
	// A backup being deleted is no longer a candidate: the guard moves to
	// the newest Completed one that stays.
	backups[1].Status.Phase = arkv1.BackupPhaseDeleting
	d := Evaluate(Input{Now: now, Backups: backups})
	if d["c-old"].Guard == "" || d["c-newest"].Verdict != Delete {
		t.Fatalf("with the newest being deleted: c-old %+v, c-newest %+v", d["c-old"], d["c-newest"])
	}
	// Made by hand: TTL only, no guard.
	d = Evaluate(Input{Now: now, Backups: []arkv1.Backup{manual(backups[0])}})
	if d["c-old"].Verdict != Delete || d["c-old"].Guard != "" {
		t.Fatalf("an expired backup made by hand: %+v", d["c-old"])
	}
}

// A schedule's own guard list can add another notion of a good backup (a
// verified one) without changing the rest.
func TestAnotherGuardPlugsIn(t *testing.T) {
	verified := Guard{Name: "newest verified backup", Matches: func(b *arkv1.Backup) bool { return b.Annotations["verified"] == "true" }}
	backups := []arkv1.Backup{
		scheduled("v", arkv1.BackupPhaseCompleted, now.Add(-3*time.Hour), time.Minute),
		scheduled("c", arkv1.BackupPhaseCompleted, now.Add(-2*time.Hour), time.Minute),
	}
	backups[0].Annotations = map[string]string{"verified": "true"}
	d := Evaluate(Input{Now: now, Backups: backups, Guards: []Guard{NewestCompleted, verified}})
	if len(deleted(d)) != 0 || d["v"].Guard != verified.Name || d["c"].Guard != NewestCompleted.Name {
		t.Fatalf("decisions %+v", d)
	}
}

// Failed, FailedValidation and Cancelled runs take no keep slot (they
// would push good backups out) and go by their TTL only.
func TestOnlyRestorableBackupsCount(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("good-1", arkv1.BackupPhaseCompleted, now.Add(-4*time.Hour), long),
		scheduled("good-2", arkv1.BackupPhasePartiallyFailed, now.Add(-3*time.Hour), long),
		scheduled("bad-1", arkv1.BackupPhaseFailed, now.Add(-2*time.Hour), long),
		scheduled("bad-2", arkv1.BackupPhaseFailedValidation, now.Add(-1*time.Hour), long),
		scheduled("bad-3", arkv1.BackupPhaseCancelled, now.Add(-30*time.Minute), time.Minute),
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 2})})
	if got, want := deleted(d), []string{"bad-3"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v (only the expired failed run)", got, want)
	}
	if d["good-2"].KeptBy[0] != "keepLast (1 of 2)" {
		t.Fatalf("good-2 kept by %v", d["good-2"].KeptBy)
	}
}

// Periods are UTC whatever zone the timestamps carry: 23:30 in UTC-5 on
// March 1 is March 2 in UTC.
func TestDailyBucketsAreUTC(t *testing.T) {
	ny := time.FixedZone("UTC-5", -5*3600)
	backups := []arkv1.Backup{
		scheduled("mar1-early", arkv1.BackupPhaseCompleted, time.Date(2026, 3, 1, 10, 0, 0, 0, ny), long), // 15:00Z Mar 1
		scheduled("mar1-late", arkv1.BackupPhaseCompleted, time.Date(2026, 3, 1, 18, 0, 0, 0, ny), long),  // 23:00Z Mar 1
		scheduled("mar2-utc", arkv1.BackupPhaseCompleted, time.Date(2026, 3, 1, 19, 30, 0, 0, ny), long),  // 00:30Z Mar 2
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepDaily: 2})})
	if got, want := deleted(d), []string{"mar1-early"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if got := d["mar1-late"].KeptBy; !slices.Equal(got, []string{"keepDaily (2026-03-01, 2 of 2)"}) {
		t.Fatalf("mar1-late kept by %v", got)
	}
	if got := d["mar2-utc"].KeptBy; !slices.Equal(got, []string{"keepDaily (2026-03-02, 1 of 2)"}) {
		t.Fatalf("mar2-utc kept by %v", got)
	}
}

// Weeks are ISO weeks: Monday 2025-12-29 is in 2026-W01 with Jan 1, and
// Sunday 2025-12-28 in 2025-W52. Months end at UTC midnight.
func TestWeeklyAndMonthlyBoundaries(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("sun-dec28", arkv1.BackupPhaseCompleted, time.Date(2025, 12, 28, 23, 59, 59, 0, time.UTC), long),
		scheduled("mon-dec29", arkv1.BackupPhaseCompleted, time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC), long),
		scheduled("thu-jan1", arkv1.BackupPhaseCompleted, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), long),
		scheduled("sat-jan31", arkv1.BackupPhaseCompleted, time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), long),
		scheduled("sun-feb1", arkv1.BackupPhaseCompleted, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), long),
	}
	// Weeks newest first: 2026-W05 (sun-feb1, sat-jan31: Sunday is the
	// week's last day), 2026-W01 (thu-jan1, mon-dec29), 2025-W52. The
	// guard is left out so only the rules decide.
	for _, tc := range []struct {
		p    arkv1.RetentionPolicy
		kept []string
	}{
		{arkv1.RetentionPolicy{KeepWeekly: 3}, []string{"sun-dec28", "sun-feb1", "thu-jan1"}},
		{arkv1.RetentionPolicy{KeepMonthly: 3}, []string{"mon-dec29", "sat-jan31", "sun-feb1"}},
		{arkv1.RetentionPolicy{KeepWeekly: 1, KeepMonthly: 2}, []string{"sat-jan31", "sun-feb1"}},
	} {
		d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(tc.p), Guards: []Guard{}})
		var kept []string
		for name, dec := range d {
			if dec.Verdict == Keep {
				kept = append(kept, name)
			}
		}
		sort.Strings(kept)
		if !slices.Equal(kept, tc.kept) {
			t.Errorf("%s: kept %v, want %v", Describe(&tc.p), kept, tc.kept)
		}
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepWeekly: 3}), Guards: []Guard{}})
	if got := d["sun-dec28"].KeptBy; !slices.Equal(got, []string{"keepWeekly (2025-W52, 3 of 3)"}) {
		t.Errorf("sun-dec28 kept by %v", got)
	}
	if got := d["thu-jan1"].KeptBy; !slices.Equal(got, []string{"keepWeekly (2026-W01, 2 of 3)"}) {
		t.Errorf("thu-jan1 kept by %v", got)
	}
}

// Rules count periods that have backups, not calendar periods: keepDaily 2
// over backups three weeks apart keeps both.
func TestPeriodsWithoutBackupsAreSkipped(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("old", arkv1.BackupPhaseCompleted, now.Add(-21*24*time.Hour), long),
		scheduled("older", arkv1.BackupPhaseCompleted, now.Add(-42*24*time.Hour), long),
		scheduled("oldest", arkv1.BackupPhaseCompleted, now.Add(-63*24*time.Hour), long),
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepDaily: 2})})
	if got, want := deleted(d), []string{"oldest"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
}

// A period is represented by its best backup: the newest Completed one,
// else the newest PartiallyFailed one.
func TestPeriodPrefersCompleted(t *testing.T) {
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	backups := []arkv1.Backup{
		scheduled("c-morning", arkv1.BackupPhaseCompleted, day.Add(6*time.Hour), long),
		scheduled("c-noon", arkv1.BackupPhaseCompleted, day.Add(12*time.Hour), long),
		scheduled("pf-evening", arkv1.BackupPhasePartiallyFailed, day.Add(18*time.Hour), long),
		scheduled("pf-only-day", arkv1.BackupPhasePartiallyFailed, day.Add(-12*time.Hour), long),
		scheduled("pf-only-day-early", arkv1.BackupPhasePartiallyFailed, day.Add(-20*time.Hour), long),
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepDaily: 2}), Guards: []Guard{}})
	if got, want := deleted(d), []string{"c-morning", "pf-evening", "pf-only-day-early"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
}

// Two backups that started in the same second rank by name, whatever the
// order they are listed in, so two passes never disagree.
func TestTiesAreBrokenTheSameWayEveryTime(t *testing.T) {
	at := now.Add(-time.Hour)
	var backups []arkv1.Backup
	for _, name := range []string{"a", "b", "c", "d"} {
		backups = append(backups, scheduled(name, arkv1.BackupPhaseCompleted, at, long))
	}
	want := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 2})})
	if got := deleted(want); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("deleted %v, want [a b]: the later name wins a tie", got)
	}
	rng := rand.New(rand.NewSource(1))
	for range 20 {
		shuffled := slices.Clone(backups)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := Evaluate(Input{Now: now, Backups: shuffled, Policies: policy(arkv1.RetentionPolicy{KeepLast: 2})}); !reflect.DeepEqual(got, want) {
			t.Fatalf("another order of the same backups decided differently:\n%+v\nwant\n%+v", got, want)
		}
	}
}

// Several rules may keep one backup; each is named.
func TestEveryRuleThatKeepsABackupIsNamed(t *testing.T) {
	backups := []arkv1.Backup{scheduled("only", arkv1.BackupPhaseCompleted, now.Add(-time.Hour), long)}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 1, KeepHourly: 1, KeepDaily: 1, KeepWeekly: 1, KeepMonthly: 1})})
	want := []string{"keepLast (1 of 1)", "keepHourly (2026-03-10T11Z, 1 of 1)", "keepDaily (2026-03-10, 1 of 1)", "keepWeekly (2026-W11, 1 of 1)", "keepMonthly (2026-03, 1 of 1)"}
	if got := d["only"].KeptBy; !slices.Equal(got, want) {
		t.Fatalf("kept by %v, want %v", got, want)
	}
}

// Counts and TTL both delete: a backup a rule keeps still goes at its
// expiration (unless guarded), and a Deleting one expires as before.
func TestTTLStillApplies(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("kept-but-expired", arkv1.BackupPhaseCompleted, now.Add(-2*time.Hour), time.Hour),
		scheduled("newest", arkv1.BackupPhaseCompleted, now.Add(-time.Hour), long),
		scheduled("deleting-expired", arkv1.BackupPhaseDeleting, now.Add(-3*time.Hour), time.Hour),
		scheduled("deleting-fresh", arkv1.BackupPhaseDeleting, now.Add(-3*time.Hour), long),
	}
	d := Evaluate(Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 5})})
	if got, want := deleted(d), []string{"deleting-expired", "kept-but-expired"}; !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if r := d["kept-but-expired"].Reason; !strings.Contains(r, "expired at 2026-03-10T11:00:00Z") {
		t.Fatalf("reason %q", r)
	}
}

func TestPolicyOf(t *testing.T) {
	cfg := &arkv1.Config{Retention: &arkv1.RetentionPolicy{KeepDaily: 7}}
	own := &arkv1.Schedule{Spec: arkv1.ScheduleSpec{Retention: &arkv1.RetentionPolicy{KeepLast: 3}}}
	if p := PolicyOf(own, cfg); p.KeepLast != 3 || p.KeepDaily != 0 {
		t.Errorf("a schedule's own policy: %+v", p)
	}
	if p := PolicyOf(&arkv1.Schedule{}, cfg); p.KeepDaily != 7 {
		t.Errorf("the Config's default: %+v", p)
	}
	if p := PolicyOf(nil, cfg); p.KeepDaily != 7 {
		t.Errorf("a deleted schedule: %+v", p)
	}
	if p := PolicyOf(nil, nil); p != nil {
		t.Errorf("no policy at all: %+v", p)
	}
	if got := Describe(&arkv1.RetentionPolicy{KeepLast: 3, KeepMonthly: 12}); got != "keepLast 3, keepMonthly 12" {
		t.Errorf("Describe: %q", got)
	}
}

func TestPreview(t *testing.T) {
	backups := []arkv1.Backup{
		scheduled("b1", arkv1.BackupPhaseCompleted, now.Add(-3*time.Minute), time.Hour),
		scheduled("b2", arkv1.BackupPhaseCompleted, now.Add(-2*time.Minute), 2*time.Hour),
		scheduled("b3", arkv1.BackupPhaseCompleted, now.Add(-1*time.Minute), 3*time.Hour),
		scheduled("b0", arkv1.BackupPhaseCompleted, now.Add(-4*time.Minute), 3*time.Hour),
	}
	in := Input{Now: now, Backups: backups, Policies: policy(arkv1.RetentionPolicy{KeepLast: 3})}
	got := Preview(in, "daily", now.Add(time.Minute), time.Hour)
	var names []string
	for _, u := range got {
		names = append(names, u.Backup)
	}
	// b0 is due now; the next run pushes b1 out; b2 expires, b3 is guarded.
	if want := []string{"b0", "b1", "b2"}; !slices.Equal(names, want) {
		t.Fatalf("preview %v, want %v: %+v", names, want, got)
	}
	if !got[0].At.IsZero() || !got[1].At.Equal(now.Add(time.Minute)) || !got[2].At.Equal(now.Add(118*time.Minute)) {
		t.Fatalf("preview times: %+v", got)
	}
	if !strings.Contains(got[1].Reason, "once the next run Completes") {
		t.Fatalf("reason %q", got[1].Reason)
	}

	// Everything expired but the guarded one: the next run takes the guard
	// over, and the old guarded backup goes then.
	expired := []arkv1.Backup{scheduled("last-good", arkv1.BackupPhaseCompleted, now.Add(-2*time.Hour), time.Hour)}
	got = Preview(Input{Now: now, Backups: expired}, "daily", now.Add(time.Minute), time.Hour)
	if len(got) != 1 || got[0].Backup != "last-good" || !strings.Contains(got[0].Reason, "no longer the newest Completed backup") {
		t.Fatalf("preview %+v", got)
	}
	// A schedule that never runs again keeps it.
	if got := Preview(Input{Now: now, Backups: expired}, "daily", time.Time{}, time.Hour); len(got) != 0 {
		t.Fatalf("preview without a next run %+v", got)
	}
}
