package retention

import (
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Upcoming is one deletion the policy will ask for, and when.
type Upcoming struct {
	Backup string
	// At is when: the next garbage collection (zero) for a backup due
	// now, else its expiration.
	At     time.Time
	Reason string
}

// Preview says which backups of schedule go next: those due now (At
// zero), those the next run would push out of the keep counts once it
// Completes (At = nextRun), and the others by their expiration, soonest
// first. A guarded backup never appears. nextRun zero means the schedule
// runs no more. ttl is the TTL of the schedule's backups, for the one the
// next run makes.
func Preview(in Input, schedule string, nextRun time.Time, ttl time.Duration) []Upcoming {
	now := Evaluate(in)
	var out []Upcoming
	for _, b := range in.Backups {
		if arkv1.ScheduleName(&b) != schedule {
			continue
		}
		if d := now[b.Name]; d.Verdict == Delete {
			out = append(out, Upcoming{Backup: b.Name, Reason: d.Reason})
		}
	}
	pushedOut := map[string]bool{}
	if !nextRun.IsZero() {
		next := in
		next.Now = nextRun
		next.Backups = append(append([]arkv1.Backup(nil), in.Backups...), syntheticRun(schedule, nextRun, ttl))
		after := Evaluate(next)
		for _, b := range in.Backups {
			if arkv1.ScheduleName(&b) != schedule || now[b.Name].Verdict != Keep {
				continue
			}
			d := after[b.Name]
			// One that expires before the next run goes then, for that.
			if d.Verdict != Delete || (now[b.Name].Guard == "" && d.Expires != nil && !d.Expires.After(nextRun)) {
				continue
			}
			pushedOut[b.Name] = true
			reason := "once the next run Completes: " + d.Reason
			if g := now[b.Name].Guard; g != "" {
				reason = "once the next run Completes it is no longer the " + g + ", and it " + d.Reason
			}
			out = append(out, Upcoming{Backup: b.Name, At: nextRun, Reason: reason})
		}
	}
	var expiring []Upcoming
	for _, b := range in.Backups {
		d := now[b.Name]
		if arkv1.ScheduleName(&b) != schedule || d.Verdict != Keep || d.Guard != "" || pushedOut[b.Name] || d.Expires == nil {
			continue
		}
		expiring = append(expiring, Upcoming{Backup: b.Name, At: *d.Expires, Reason: "its TTL expires"})
	}
	sort.SliceStable(expiring, func(i, j int) bool {
		if !expiring[i].At.Equal(expiring[j].At) {
			return expiring[i].At.Before(expiring[j].At)
		}
		return expiring[i].Backup < expiring[j].Backup
	})
	return append(out, expiring...)
}

// syntheticRun is the Completed backup a schedule's next run would make.
func syntheticRun(schedule string, at time.Time, ttl time.Duration) arkv1.Backup {
	start := metav1.NewTime(at)
	b := arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Name: "\xff next run", Labels: map[string]string{arkv1.ScheduleNameLabel: schedule}},
		Status:     arkv1.BackupStatus{Phase: arkv1.BackupPhaseCompleted, StartTimestamp: &start},
	}
	if ttl > 0 {
		e := metav1.NewTime(at.Add(ttl))
		b.Status.Expiration = &e
	}
	return b
}
