package schedule

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary schedules to parse, without the recover that
// Parse adds, so any input that makes robfig/cron panic is found here. An
// accepted schedule must give increasing run times that Due and NextRuns
// compute without hanging; a refused one an error with the examples.
//
//	go test ./internal/schedule -run '^$' -fuzz FuzzParse -fuzztime 2m
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0 */6 * * *", "* * * * *", "30 2 * * 1-5", "@every 6h", "@every 90s", "@daily", "@hourly", "@weekly", "@monthly",
		"@yearly", "@annually", "@midnight", "CRON_TZ=Europe/Paris 0 3 * * *", "TZ=UTC\t0 * * * *", "CRON_TZ=", "TZ=", "CRON_TZ=UTC",
		"CRON_TZ= 0 * * * *", "CRON_TZ=UTC @every 1h", "CRON_TZ=UTC TZ=UTC 0 * * * *", "@every 0s", "@every -1h", "@every 1ns",
		"61 * * * *", "0 0 30 2 *", "0 0 31 4 *", "*/0 * * * *", "0-70 * * * *", "5-1 * * * *", "? ? ? ? ?", "0 0 * * MON-FRI",
		"0 0 1 JAN-DEC SUN", "1,2,3-4/2 * * * *", "@every 1h30m", "@every ", "@", "CRON_TZ=../../etc/passwd 0 * * * *",
		"0 0 29 2 *", "*/1000000000000000000000 * * * *", "0 0 L * *", "0 0 * * 7",
	} {
		f.Add(s)
	}
	start := time.Date(2026, 3, 1, 10, 17, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		sched, err := parse(spec)
		if err != nil {
			if !strings.Contains(err.Error(), "@every 6h") {
				t.Fatalf("parse(%q) error %q shows no example", spec, err)
			}
			return
		}
		runs := NextRuns(sched, start, start.Add(90*time.Minute), 3)
		for i := 1; i < len(runs); i++ {
			if !runs[i].After(runs[i-1]) {
				t.Fatalf("parse(%q): run times %v do not increase", spec, runs)
			}
		}
		if every, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
			if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
				t.Fatalf("parse(%q) accepted an interval below 1s", spec)
			}
		}
	})
}
