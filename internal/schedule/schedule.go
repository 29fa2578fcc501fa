// Package schedule is what a Schedule's spec.schedule means: parsing the cron
// expression, the run time due now, the next run times, the names of the
// backups it makes, and the validation of the whole Schedule. The schedule
// reconciler and the CLI (create, describe) share it.
package schedule

import (
	"fmt"
	"strings"
	"time"
	// Zones are embedded, so the CLI and the server (whose image may have
	// no zoneinfo) accept the same CRON_TZ= zones.
	_ "time/tzdata"
	"unicode"

	"github.com/robfig/cron/v3"
)

// scheduleExamples is appended to every cron parse error, so the fix is in
// the message.
const scheduleExamples = `use a 5-field cron expression (minute hour day-of-month month day-of-week, in UTC) such as "0 */6 * * *" (every 6 hours), or a descriptor such as "@every 6h", "@daily" or "@hourly"`

// zonePrefixes introduce a schedule's time zone, as robfig/cron spells them.
var zonePrefixes = []string{"CRON_TZ=", "TZ="}

// Parse parses a Schedule's spec.schedule: a standard 5-field cron
// expression or a descriptor (@every 6h, @daily, ...). Times are UTC unless
// the expression starts with CRON_TZ=<zone> (or TZ=<zone>), whatever the
// zone of the machine that parses it. The error names the problem and shows
// valid examples.
func Parse(spec string) (sched cron.Schedule, err error) {
	// A bad spec must fail validation, never the server: should robfig/cron
	// panic on an input parse does not foresee, the panic becomes an error
	// (FuzzParse calls parse directly, so such inputs are found and fixed).
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid schedule %q: the cron parser failed on it: %s", spec, scheduleExamples)
		}
	}()
	return parse(spec)
}

func parse(spec string) (cron.Schedule, error) {
	expr := strings.TrimSpace(spec)
	if expr == "" {
		return nil, fmt.Errorf("the schedule is empty: %s", scheduleExamples)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid schedule %q: %s: %s", spec, fmt.Sprintf(format, args...), scheduleExamples)
	}
	zone, explicitZone := "UTC", false
	for _, prefix := range zonePrefixes {
		if !strings.HasPrefix(expr, prefix) {
			continue
		}
		head, rest := expr, ""
		if i := strings.IndexFunc(expr, unicode.IsSpace); i >= 0 {
			head, rest = expr[:i], strings.TrimSpace(expr[i:])
		}
		zone, explicitZone = strings.TrimPrefix(head, prefix), true
		switch {
		case zone == "":
			return nil, bad("the time zone after %s is empty: write %sEurope/Paris 0 3 * * *, or leave the prefix out for UTC", prefix, prefix)
		case rest == "":
			return nil, bad("%s%s is followed by no cron expression: write the zone, a space, then the expression, e.g. %s%s 0 3 * * *", prefix, zone, prefix, zone)
		}
		if _, err := time.LoadLocation(zone); err != nil {
			return nil, bad("unknown time zone %q (bad location): use an IANA zone name such as Europe/Paris or America/New_York", zone)
		}
		expr = rest
		break
	}
	for _, prefix := range zonePrefixes {
		if strings.HasPrefix(expr, prefix) {
			return nil, bad("it gives a time zone twice: keep one %s<zone> prefix", prefix)
		}
	}
	every, isEvery := strings.CutPrefix(expr, "@every ")
	if isEvery && explicitZone {
		// robfig/cron would ignore the zone: say so rather than accept it.
		return nil, bad("a time zone does not apply to @every, which counts from the last run: remove the %s prefix", zonePrefixes[0])
	}
	// The zone is always given to robfig/cron, which would otherwise use
	// the local zone of whichever machine parses the schedule.
	sched, err := cron.ParseStandard("CRON_TZ=" + zone + " " + expr)
	if err != nil {
		return nil, bad("%v", err)
	}
	// robfig/cron turns "@every 0s" or "@every -1h" into every second.
	if isEvery {
		if d, perr := time.ParseDuration(strings.TrimSpace(every)); perr == nil && d < time.Second {
			return nil, bad("the interval must be at least 1s")
		}
	}
	return sched, nil
}

// Due answers "should a backup run now?" for a schedule whose last run
// (or, before the first run, whose creation) was at after.
//
// It returns the most recent run time in (after, now] (ok is false when there
// is none) and the first run time after now (zero when the schedule never
// fires again). Run times missed while the server was down collapse into
// that single most recent one: a server that comes back after missing several
// runs makes one catch-up backup, never a burst.
//
// The result depends only on the schedule, after and now, never on when the
// server happened to look, so a server that crashed after creating a backup
// but before recording it computes the same time, hence the same backup
// name, and gets AlreadyExists instead of making a second backup.
func Due(sched cron.Schedule, after, now time.Time) (due time.Time, ok bool, next time.Time) {
	after, now = after.UTC(), now.UTC()
	first := sched.Next(after)
	if first.IsZero() || first.After(now) {
		return time.Time{}, false, first
	}
	// @every runs are anchored at after (the last run), so the latest one is
	// arithmetic.
	if every, isEvery := sched.(cron.ConstantDelaySchedule); isEvery {
		n := now.Sub(first) / every.Delay
		due = first.Add(n * every.Delay)
		return due, true, due.Add(every.Delay)
	}
	// Cron runs are wall-clock instants: find a start close before now from
	// which to walk forward, so a long outage does not mean walking through
	// every run since (a minutely schedule down for a year).
	start := after
	for back := time.Minute; ; back *= 2 {
		s := now.Add(-back)
		if !s.After(after) {
			break
		}
		if n := sched.Next(s); !n.IsZero() && !n.After(now) {
			start = s
			break
		}
	}
	due = sched.Next(start)
	for {
		n := sched.Next(due)
		if n.IsZero() || n.After(now) {
			return due, true, n
		}
		due = n
	}
}

// BackupName is the name of the backup a schedule makes for a run
// time: <schedule>-<YYYYMMDDHHMMSS> in UTC, as Heptio Ark named them.
func BackupName(schedule string, due time.Time) string {
	return schedule + "-" + due.UTC().Format("20060102150405")
}

// NextRunTime is when the server will next create a backup for a schedule
// whose last run (or creation) was at after: the run time due now if one is
// (overdue is then true), else the next one. Zero when it never runs again.
func NextRunTime(sched cron.Schedule, after, now time.Time) (t time.Time, overdue bool) {
	due, ok, next := Due(sched, after, now)
	if ok {
		return due, true
	}
	return next, false
}

// NextRuns returns up to n run times after the one due now (or after after,
// when none is due), in order. It shows a user when the schedule will fire.
func NextRuns(sched cron.Schedule, after, now time.Time, n int) []time.Time {
	t, _ := NextRunTime(sched, after, now)
	var runs []time.Time
	for ; !t.IsZero() && len(runs) < n; t = sched.Next(t) {
		runs = append(runs, t.UTC())
	}
	return runs
}
