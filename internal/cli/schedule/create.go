package schedule

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/backup"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/schedule"
)

type createOptions struct {
	spec     backup.SpecFlags
	schedule string
	labels   []string
	output   string
}

// NewCreateCommand is `ark schedule create`.
func NewCreateCommand(f *clientcfg.Factory) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create NAME --schedule CRON",
		Short: "Create a schedule: backups made on a cron schedule",
		Long: `Create a schedule. The server makes a backup with the schedule's backup
spec at every run time, named <schedule>-<YYYYMMDDHHMMSS> (the run time, UTC)
and labelled ark-schedule=<schedule>.

--schedule takes a 5-field cron expression (minute hour day-of-month month
day-of-week, in UTC) or a descriptor: @every <duration>, @hourly, @daily,
@weekly, @monthly, @yearly. Runs missed while the server was down are not
replayed: when it comes back it makes one backup for the most recent of them.`,
		Example: `  # every 6 hours, everything, kept for a week
  ark schedule create full --schedule "0 */6 * * *" --ttl 168h

  # every day at 01:30 UTC, one namespace, without secrets
  ark schedule create team-a --schedule "30 1 * * *" --include-namespaces team-a --exclude-resources secrets

  # every 12 hours from now on
  ark schedule create twice-a-day --schedule "@every 12h"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args[0]) },
	}
	o.spec.Bind(cmd)
	cmd.Flags().StringVar(&o.schedule, "schedule", "", `when to back up: a cron expression such as "0 */6 * * *", or "@every 6h", "@daily" (required)`)
	cmd.Flags().StringSliceVar(&o.labels, "labels", nil, "labels to put on the Schedule (k1=v1,k2=v2)")
	output.BindFlag(cmd, &o.output, "", "json", "yaml")
	return cmd
}

func (o *createOptions) run(cmd *cobra.Command, f *clientcfg.Factory, name string) error {
	if o.output != "" {
		if err := output.Validate(o.output, "json", "yaml"); err != nil {
			return err
		}
	}
	if strings.TrimSpace(o.schedule) == "" {
		return fmt.Errorf(`--schedule is required: give a cron expression such as --schedule "0 */6 * * *", or a descriptor such as --schedule "@daily"`)
	}
	labels, err := flags.Labels(o.labels)
	if err != nil {
		return err
	}
	spec, err := o.spec.Spec()
	if err != nil {
		return err
	}
	ns := f.ResolvedNamespace()
	s := &arkv1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       arkv1.ScheduleSpec{Schedule: o.schedule, Template: spec},
	}
	// The server validates it the same way; failing here loses nothing.
	if _, problems := schedule.Validate(s); len(problems) > 0 {
		return fmt.Errorf("schedule %q is not valid:\n  %s", name, strings.Join(problems, "\n  "))
	}
	if o.output != "" {
		return output.Object(cmd.OutOrStdout(), o.output, s)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	if err := c.Create(cmd.Context(), s); err != nil {
		return fmt.Errorf("creating schedule %q: %w", name, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q created successfully.\nRun `ark schedule describe %s` for its status and next run time.\n", name, name)
	return nil
}
