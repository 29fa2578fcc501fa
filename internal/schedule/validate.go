package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backup"
)

// Validate checks a Schedule as the server will use it: its cron expression,
// its name (carried by its backups in a label) and its backup template. It
// returns the parsed schedule and every problem, each naming its fix; the
// schedule reconciler and `ark schedule create` both call it, so a schedule
// the CLI accepts is one the server accepts.
func Validate(s *arkv1.Schedule) (cron.Schedule, []string) {
	var problems []string
	sched, err := Parse(s.Spec.Schedule)
	if err != nil {
		problems = append(problems, err.Error())
	}
	// Its backups are named <schedule>-<YYYYMMDDHHMMSS>, which must be a
	// valid name too; the label they carry is shortened when needed
	// (arkv1.LabelValue), so it sets no tighter limit.
	if len(s.Name) > arkv1.MaxScheduleNameLength {
		problems = append(problems, fmt.Sprintf("the schedule's name is %d characters long, too long for the names of its backups (<schedule>-<YYYYMMDDHHMMSS>, at most %d characters): use a name of at most %d characters",
			len(s.Name), arkv1.MaxNameLength, arkv1.MaxScheduleNameLength))
	} else if errs := validation.IsDNS1123Subdomain(BackupName(s.Name, time.Time{})); s.Name != "" && len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("the schedule's name %q cannot start the names of its backups (%s): use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", s.Name, errs[0]))
	}
	for _, p := range backup.ValidateSpec(s.Spec.Template) {
		problems = append(problems, "template: "+p)
	}
	problems = append(problems, ValidateRetention(s.Spec.Retention, "retention")...)
	return sched, problems
}

// ValidateRetention checks a retention policy (a Schedule's, or the
// Config's default); field prefixes the names in messages.
func ValidateRetention(p *arkv1.RetentionPolicy, field string) []string {
	if p == nil {
		return nil
	}
	var problems []string
	for _, c := range []struct {
		name string
		n    int
	}{{"keepLast", p.KeepLast}, {"keepHourly", p.KeepHourly}, {"keepDaily", p.KeepDaily}, {"keepWeekly", p.KeepWeekly}, {"keepMonthly", p.KeepMonthly}} {
		if c.n < 0 {
			problems = append(problems, fmt.Sprintf("%s.%s is %d: a keep count is 0 (the rule is off) or more", field, c.name, c.n))
		}
	}
	return problems
}
