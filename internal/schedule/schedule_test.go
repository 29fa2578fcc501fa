package schedule

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	for _, good := range []string{"0 */6 * * *", "* * * * *", "30 2 * * 1-5", "@every 6h", "@every 90s", "@daily", "@hourly", "@weekly", " @daily ", "CRON_TZ=Europe/Paris 0 3 * * *"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
	for spec, wantInMessage := range map[string]string{
		"":                          "empty",
		"every 6 hours":             "expected exactly 5 fields",
		"0 0 */6 * * *":             "expected exactly 5 fields", // 6-field (seconds) cron is not the standard form
		"61 * * * *":                "above maximum",
		"@every 6 hours":            "failed to parse duration",
		"@every 0s":                 "at least 1s",
		"@every -1h":                "at least 1s",
		"@fortnightly":              "unrecognized descriptor",
		"CRON_TZ=UTC":               "invalid schedule", // panics inside robfig/cron
		"CRON_TZ=Nowhere 0 * * * *": "bad location",
	} {
		_, err := Parse(spec)
		if err == nil {
			t.Errorf("Parse(%q) accepted an invalid schedule", spec)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, wantInMessage) || !strings.Contains(msg, `"0 */6 * * *"`) || !strings.Contains(msg, "@every 6h") {
			t.Errorf("Parse(%q) error %q lacks %q or the examples", spec, msg, wantInMessage)
		}
	}
}

func TestDue(t *testing.T) {
	cases := []struct {
		name, spec, after, now string
		wantDue, wantNext      string // wantDue "" means nothing due
	}{
		{"not yet due after creation", "0 */6 * * *", "2026-03-01T10:17:00Z", "2026-03-01T11:59:59Z", "", "2026-03-01T12:00:00Z"},
		{"due exactly at the run time", "0 */6 * * *", "2026-03-01T10:17:00Z", "2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z", "2026-03-01T18:00:00Z"},
		{"the last run is not due again", "0 */6 * * *", "2026-03-01T12:00:00Z", "2026-03-01T12:00:30Z", "", "2026-03-01T18:00:00Z"},
		{"missed runs collapse into the latest", "0 */6 * * *", "2026-03-01T12:00:00Z", "2026-03-02T07:30:00Z", "2026-03-02T06:00:00Z", "2026-03-02T12:00:00Z"},
		{"an outage of a year on a minutely schedule", "* * * * *", "2025-03-01T00:00:00Z", "2026-03-01T10:17:42Z", "2026-03-01T10:17:00Z", "2026-03-01T10:18:00Z"},
		{"a monthly schedule after a long outage", "@monthly", "2025-11-01T00:00:00Z", "2026-03-15T08:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"@every is anchored at the last run", "@every 1h", "2026-03-01T10:00:30Z", "2026-03-01T13:45:00Z", "2026-03-01T13:00:30Z", "2026-03-01T14:00:30Z"},
		{"@every not yet due", "@every 1h", "2026-03-01T10:00:30Z", "2026-03-01T11:00:29Z", "", "2026-03-01T11:00:30Z"},
		{"a schedule that never fires", "0 0 30 2 *", "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "", ""},
		{"input in another zone is treated as UTC", "0 12 * * *", "2026-03-01T09:00:00+05:00", "2026-03-01T13:00:00+01:00", "2026-03-01T12:00:00Z", "2026-03-02T12:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sched, err := Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			due, ok, next := Due(sched, mustTime(t, c.after), mustTime(t, c.now))
			if c.wantDue == "" {
				if ok {
					t.Errorf("due %s, want nothing due", due)
				}
			} else if !ok || !due.Equal(mustTime(t, c.wantDue)) {
				t.Errorf("due %s (ok %v), want %s", due, ok, c.wantDue)
			}
			if c.wantNext == "" {
				if !next.IsZero() {
					t.Errorf("next %s, want none", next)
				}
			} else if !next.Equal(mustTime(t, c.wantNext)) {
				t.Errorf("next %s, want %s", next, c.wantNext)
			}
		})
	}
}

// TestDueMatchesAWalk checks Due's shortcut against walking every run
// time one by one, for random outages.
func TestDueMatchesAWalk(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	base := mustTime(t, "2026-01-01T00:00:00Z")
	// The longest outage tried per schedule keeps the walk short.
	const day = 24 * time.Hour
	for _, c := range []struct {
		spec      string
		maxOutage time.Duration
	}{
		{"* * * * *", 3 * day}, {"*/7 * * * *", 5 * day}, {"* 2 * * *", 10 * day}, {"0 */6 * * *", 60 * day},
		{"15 3 * * 1", 90 * day}, {"0 0 1 * *", 200 * day}, {"@every 45m", 20 * day}, {"@every 13s", 12 * time.Hour},
		{"@daily", 60 * day},
	} {
		spec, maxOutage := c.spec, c.maxOutage
		sched, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			after := base.Add(time.Duration(rng.Int63n(int64(90 * 24 * time.Hour))))
			now := after.Add(time.Duration(rng.Int63n(int64(maxOutage))))
			var want time.Time
			for n := sched.Next(after); !n.After(now); n = sched.Next(n) {
				want = n
			}
			due, ok, next := Due(sched, after, now)
			if ok != !want.IsZero() || (ok && !due.Equal(want)) {
				t.Fatalf("%s after %s now %s: due %s ok %v, walking gives %s", spec, after, now, due, ok, want)
			}
			if !next.After(now) {
				t.Fatalf("%s after %s now %s: next %s is not after now", spec, after, now, next)
			}
		}
	}
}

// TestParseTimeZonePrefixes: every malformed CRON_TZ=/TZ= prefix is an error
// that says what is wrong with it, never a Go runtime panic's message.
func TestParseTimeZonePrefixes(t *testing.T) {
	for spec, want := range map[string]string{
		"CRON_TZ=":                           "the time zone after CRON_TZ= is empty",
		"TZ=":                                "the time zone after TZ= is empty",
		"CRON_TZ= 0 * * * *":                 "the time zone after CRON_TZ= is empty",
		"CRON_TZ=UTC":                        "CRON_TZ=UTC is followed by no cron expression",
		"TZ=UTC  ":                           "TZ=UTC is followed by no cron expression",
		"CRON_TZ=Mars/Olympus 0 * * * *":     `unknown time zone "Mars/Olympus"`,
		"CRON_TZ=../../etc/passwd 0 * * * *": "unknown time zone",
		"CRON_TZ=UTC TZ=UTC 0 * * * *":       "gives a time zone twice",
		"CRON_TZ=UTC @every 1h":              "a time zone does not apply to @every",
		"CRON_TZ=UTC @every 0s":              "a time zone does not apply to @every",
		"CRON_TZ=UTC 61 * * * *":             "above maximum",
	} {
		_, err := Parse(spec)
		if err == nil {
			t.Errorf("Parse(%q) accepted it", spec)
			continue
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "runtime error") || !strings.Contains(err.Error(), "@every 6h") {
			t.Errorf("Parse(%q) = %q, want %q and the examples", spec, err, want)
		}
	}
	for _, good := range []string{"TZ=UTC\t0 * * * *", "CRON_TZ=America/New_York  30 2 * * 1-5", "CRON_TZ=Asia/Kolkata @daily"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
}

// TestParseIsUTCWhateverTheLocalZone: a schedule without a zone runs in UTC
// on a machine whose local zone is not UTC (a laptop running the CLI).
func TestParseIsUTCWhateverTheLocalZone(t *testing.T) {
	local := time.Local
	defer func() { time.Local = local }()
	time.Local = time.FixedZone("UTC+5", 5*3600)
	sched, err := Parse("0 12 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := sched.Next(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next run %v, want %v", next, want)
	}
	paris, err := Parse("CRON_TZ=Europe/Paris 0 12 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if next := paris.Next(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("Europe/Paris noon = %v, want 11:00 UTC", next)
	}
}
