// Package retention decides which backups are kept and which are deleted:
// their TTL, the keep counts of their schedule (keepLast and the
// grandfather-father-son keepHourly/Daily/Weekly/Monthly), and the guard
// that no setting overrides: the newest Completed backup of a schedule is
// never deleted by expiry. Garbage collection acts on the decisions (it
// requests the deletions); `ark backup describe` and `ark schedule describe`
// show them. It is pure: the callers list the backups and resolve the
// policies, so both sides decide alike.
package retention

import (
	"fmt"
	"sort"
	"strings"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// DefaultTTL is the TTL of a backup whose spec sets none.
const DefaultTTL = 720 * time.Hour

// Guard picks, among the finished backups of a schedule, the newest one
// that Matches; that backup is never deleted by TTL or count. Guards are
// values so that another notion of "last good" (a backup verified by a
// restore test, once verification exists) is one more Guard.
type Guard struct {
	// Name says what the guard keeps, for people ("newest Completed backup").
	Name    string
	Matches func(*arkv1.Backup) bool
}

// NewestCompleted keeps the newest Completed backup of each schedule, so
// that expiry never leaves a schedule without a good backup (a schedule
// whose recent runs all failed keeps its last good one, whatever its age).
var NewestCompleted = Guard{
	Name:    "newest Completed backup",
	Matches: func(b *arkv1.Backup) bool { return b.Status.Phase == arkv1.BackupPhaseCompleted },
}

// DefaultGuards are the guards the server applies.
func DefaultGuards() []Guard { return []Guard{NewestCompleted} }

// Input is everything a decision depends on.
type Input struct {
	Now time.Time
	// Backups are the backups to decide on (all those of a namespace, or
	// those of one schedule); only those of a schedule get keep counts and
	// guards, the others only their TTL.
	Backups []arkv1.Backup
	// Policies maps a schedule's name to its retention (see PolicyOf); a
	// schedule missing from it has no keep counts.
	Policies map[string]*arkv1.RetentionPolicy
	// Guards default to DefaultGuards.
	Guards []Guard
}

// Verdict is what happens to a backup.
type Verdict string

const (
	// Keep: the backup stays (for now: see Decision.Expires).
	Keep Verdict = "Keep"
	// Delete: garbage collection requests its deletion.
	Delete Verdict = "Delete"
	// Unfinished: a backup that has not finished is never deleted by
	// expiry (its files are still being written).
	Unfinished Verdict = "Unfinished"
)

// Decision is the verdict on one backup and why.
type Decision struct {
	Verdict Verdict
	// Schedule is the schedule the backup belongs to ("" for one made by
	// hand).
	Schedule string
	// Guard names the guard that keeps the backup, when one does.
	Guard string
	// KeptBy lists the keep rules that keep the backup ("keepLast 2 of 3",
	// "keepDaily 2026-03-01").
	KeptBy []string
	// Reason says, for Delete, why it goes.
	Reason string
	// Expires is the backup's TTL expiration (nil: none recorded).
	Expires *time.Time
}

// Evaluate decides on every backup of in.Backups, by name.
func Evaluate(in Input) map[string]Decision {
	guards := in.Guards
	if guards == nil {
		guards = DefaultGuards()
	}
	out := make(map[string]Decision, len(in.Backups))
	bySchedule := map[string][]*arkv1.Backup{}
	for i := range in.Backups {
		b := &in.Backups[i]
		s := arkv1.ScheduleName(b)
		bySchedule[s] = append(bySchedule[s], b)
	}
	for schedule, backups := range bySchedule {
		sortNewestFirst(backups)
		guarded := map[string]string{}
		kept := map[string][]string{}
		if schedule != "" {
			guarded = applyGuards(backups, guards)
			kept = applyPolicy(backups, in.Policies[schedule])
		}
		counting := schedule != "" && Counts(in.Policies[schedule])
		for _, b := range backups {
			out[b.Name] = decide(b, in.Now, schedule, guarded[b.Name], kept[b.Name], counting, in.Policies[schedule])
		}
	}
	return out
}

func decide(b *arkv1.Backup, now time.Time, schedule, guard string, keptBy []string, counting bool, p *arkv1.RetentionPolicy) Decision {
	d := Decision{Verdict: Keep, Schedule: schedule, Guard: guard, KeptBy: keptBy}
	if e := b.Status.Expiration; e != nil {
		t := e.Time.UTC()
		d.Expires = &t
	}
	expired := d.Expires != nil && !d.Expires.After(now)
	switch b.Status.Phase {
	case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
		d.Verdict = Unfinished
		return d
	case arkv1.BackupPhaseDeleting:
		// Its deletion was asked and did not finish: expiry asks again.
		if expired {
			d.Verdict, d.Reason = Delete, fmt.Sprintf("a deletion was asked and did not finish, and it expired at %s", stamp(*d.Expires))
		}
		return d
	}
	if guard != "" {
		return d
	}
	switch {
	case expired:
		d.Verdict, d.Reason = Delete, fmt.Sprintf("expired at %s (its TTL)", stamp(*d.Expires))
	case counting && Restorable(b) && len(keptBy) == 0:
		d.Verdict, d.Reason = Delete, fmt.Sprintf("kept by no retention rule of schedule %s (%s)", schedule, Describe(p))
	}
	return d
}

// Restorable reports whether a backup holds data a restore can use: only
// those count against the keep rules, so failed runs never push good
// backups out.
func Restorable(b *arkv1.Backup) bool {
	return b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed
}

// Counts reports whether a policy has any keep count, that is whether it
// deletes backups that no rule keeps.
func Counts(p *arkv1.RetentionPolicy) bool {
	return p != nil && (p.KeepLast > 0 || p.KeepHourly > 0 || p.KeepDaily > 0 || p.KeepWeekly > 0 || p.KeepMonthly > 0)
}

// PolicyOf is the retention that applies to a schedule's backups: the
// schedule's own, else the Config's. A schedule that no longer exists
// (nil) gets the Config's; its backups keep their guard.
func PolicyOf(s *arkv1.Schedule, cfg *arkv1.Config) *arkv1.RetentionPolicy {
	if s != nil && s.Spec.Retention != nil {
		return s.Spec.Retention
	}
	if cfg != nil {
		return cfg.Retention
	}
	return nil
}

// Policies resolves the retention of every schedule that has backups: its
// own, else the Config's (also for a schedule that was deleted).
func Policies(schedules []arkv1.Schedule, backups []arkv1.Backup, cfg *arkv1.Config) map[string]*arkv1.RetentionPolicy {
	byName := map[string]*arkv1.Schedule{}
	for i := range schedules {
		byName[schedules[i].Name] = &schedules[i]
	}
	out := map[string]*arkv1.RetentionPolicy{}
	for _, b := range backups {
		if s := arkv1.ScheduleName(&b); s != "" {
			out[s] = PolicyOf(byName[s], cfg)
		}
	}
	return out
}

// Describe writes a policy for people: "keepLast 3, keepDaily 7".
func Describe(p *arkv1.RetentionPolicy) string {
	if !Counts(p) {
		return "no keep counts"
	}
	var parts []string
	for _, r := range rules(p) {
		if r.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r.name, r.n))
		}
	}
	return strings.Join(parts, ", ")
}

// Time is the time a backup is ranked by: when it started (kept in its
// stored metadata, so a synced backup ranks as it did), else when its
// object was created.
func Time(b *arkv1.Backup) time.Time {
	if b.Status.StartTimestamp != nil {
		return b.Status.StartTimestamp.Time.UTC()
	}
	return b.CreationTimestamp.Time.UTC()
}

// sortNewestFirst orders by Time, then by name (descending), so that two
// backups started in the same second rank the same way on every pass.
func sortNewestFirst(backups []*arkv1.Backup) {
	sort.SliceStable(backups, func(i, j int) bool {
		ti, tj := Time(backups[i]), Time(backups[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return backups[i].Name > backups[j].Name
	})
}

// applyGuards returns the guarded backups (name -> guard name). A backup
// that is being deleted is not a candidate: its data is going.
func applyGuards(newestFirst []*arkv1.Backup, guards []Guard) map[string]string {
	out := map[string]string{}
	for _, g := range guards {
		for _, b := range newestFirst {
			if b.Status.Phase != arkv1.BackupPhaseDeleting && g.Matches(b) {
				if out[b.Name] == "" {
					out[b.Name] = g.Name
				}
				break
			}
		}
	}
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ShortTTL lists the rules of p that ttl cuts short: both delete, so a
// keepMonthly 12 whose backups expire after 30 days keeps one month, not
// twelve. Each message names the TTL that would let the rule reach back.
func ShortTTL(p *arkv1.RetentionPolicy, ttl time.Duration) []string {
	if !Counts(p) || ttl <= 0 {
		return nil
	}
	var out []string
	for _, r := range rules(p) {
		span, unit := periodSpan[r.name], periodUnit[r.name]
		if r.n <= 1 || span == 0 {
			continue
		}
		// The newest of N periods' backups is at most (N-1) periods plus
		// one period old.
		reach := time.Duration(r.n) * span
		if ttl < reach {
			out = append(out, fmt.Sprintf("%s %d reaches back %d %s, but the backups' TTL (%s) deletes them sooner: set a TTL of at least %s (--ttl %s) for the rule to keep them",
				r.name, r.n, r.n, unit, ttl, reach, reach))
		}
	}
	return out
}

var periodSpan = map[string]time.Duration{
	"keepHourly": time.Hour, "keepDaily": 24 * time.Hour, "keepWeekly": 7 * 24 * time.Hour, "keepMonthly": 31 * 24 * time.Hour,
}

var periodUnit = map[string]string{"keepHourly": "hours", "keepDaily": "days", "keepWeekly": "weeks", "keepMonthly": "months"}
