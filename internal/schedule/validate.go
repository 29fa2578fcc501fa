package schedule

import (
	"fmt"

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
	if errs := validation.IsValidLabelValue(s.Name); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("the schedule's name %q cannot be the value of the %s label its backups carry (%s): use a name of at most 63 letters, digits, '-' and '.'", s.Name, arkv1.ScheduleNameLabel, errs[0]))
	}
	for _, p := range backup.ValidateSpec(s.Spec.Template) {
		problems = append(problems, "template: "+p)
	}
	return sched, problems
}
