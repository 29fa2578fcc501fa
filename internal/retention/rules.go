package retention

import (
	"fmt"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// rule is one keep count: keepLast, or a calendar period whose newest backup
// is kept for each of the last n periods that have one.
type rule struct {
	name string
	n    int
	// period maps a time to its period's label ("2026-03-01"); nil for
	// keepLast, where every backup is its own period.
	period func(time.Time) string
}

func rules(p *arkv1.RetentionPolicy) []rule {
	return []rule{
		{name: "keepLast", n: p.KeepLast},
		{name: "keepHourly", n: p.KeepHourly, period: func(t time.Time) string { return t.UTC().Format("2006-01-02T15Z") }},
		{name: "keepDaily", n: p.KeepDaily, period: func(t time.Time) string { return t.UTC().Format("2006-01-02") }},
		{name: "keepWeekly", n: p.KeepWeekly, period: func(t time.Time) string {
			y, w := t.UTC().ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{name: "keepMonthly", n: p.KeepMonthly, period: func(t time.Time) string { return t.UTC().Format("2006-01") }},
	}
}

// applyPolicy returns, for each backup some rule keeps, the rules that keep
// it. Only restorable backups take part. newestFirst is sorted by
// sortNewestFirst.
func applyPolicy(newestFirst []*arkv1.Backup, p *arkv1.RetentionPolicy) map[string][]string {
	out := map[string][]string{}
	if !Counts(p) {
		return out
	}
	var candidates []*arkv1.Backup
	for _, b := range newestFirst {
		if Restorable(b) {
			candidates = append(candidates, b)
		}
	}
	for _, r := range rules(p) {
		if r.n <= 0 {
			continue
		}
		if r.period == nil {
			for i, b := range candidates {
				if i >= r.n {
					break
				}
				out[b.Name] = append(out[b.Name], fmt.Sprintf("%s (%d of %d)", r.name, i+1, r.n))
			}
			continue
		}
		for i, pk := range periods(candidates, r.period) {
			if i >= r.n {
				break
			}
			out[pk.pick.Name] = append(out[pk.pick.Name], fmt.Sprintf("%s (%s, %d of %d)", r.name, pk.label, i+1, r.n))
		}
	}
	return out
}

// periodPick is the backup that stands for one period.
type periodPick struct {
	label string
	pick  *arkv1.Backup
}

// periods groups newest-first candidates by period, newest period first,
// and picks each period's newest Completed backup, or its newest
// PartiallyFailed one when it has no Completed one: a period is
// represented by the best backup it has, not merely the last one.
func periods(newestFirst []*arkv1.Backup, period func(time.Time) string) []periodPick {
	var out []periodPick
	index := map[string]int{}
	for _, b := range newestFirst {
		label := period(Time(b))
		i, seen := index[label]
		if !seen {
			index[label] = len(out)
			out = append(out, periodPick{label: label, pick: b})
			continue
		}
		if out[i].pick.Status.Phase != arkv1.BackupPhaseCompleted && b.Status.Phase == arkv1.BackupPhaseCompleted {
			out[i].pick = b
		}
	}
	return out
}
