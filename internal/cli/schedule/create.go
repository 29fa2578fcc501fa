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
	"github.com/heptio/ark/internal/retention"
	"github.com/heptio/ark/internal/schedule"
)

type createOptions struct {
	spec      backup.SpecFlags
	retention arkv1.RetentionPolicy
	schedule  string
	labels    []string
	output    string
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
replayed: when it comes back it makes one backup for the most recent of them.

The --keep-* flags keep a number of the schedule's backups and delete the
others (without them, the Config's retention applies, if it has one): the N
newest (--keep-last), and the newest of each of the last N hours, days, ISO
weeks and months (UTC) that have a backup. A backup goes when no rule keeps
it or when its TTL expires, whichever comes first, except the schedule's
newest Completed backup, which is never deleted by expiry.`,
		Example: `  # every 6 hours, everything, kept for a week
  ark schedule create full --schedule "0 */6 * * *" --ttl 168h

  # every day at 01:30 UTC, one namespace, without secrets
  ark schedule create team-a --schedule "30 1 * * *" --include-namespaces team-a --exclude-resources secrets

  # every 12 hours from now on
  ark schedule create twice-a-day --schedule "@every 12h"

  # daily, keeping 7 daily, 4 weekly and 12 monthly backups (the TTL must reach that far)
  ark schedule create nightly --schedule "@daily" --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --ttl 9000h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args[0]) },
	}
	o.spec.Bind(cmd)
	cmd.Flags().StringVar(&o.schedule, "schedule", "", `when to back up: a cron expression such as "0 */6 * * *", or "@every 6h", "@daily" (required)`)
	cmd.Flags().StringSliceVar(&o.labels, "labels", nil, "labels to put on the Schedule (k1=v1,k2=v2)")
	cmd.Flags().IntVar(&o.retention.KeepLast, "keep-last", 0, "keep the N newest backups (0: no such rule)")
	cmd.Flags().IntVar(&o.retention.KeepHourly, "keep-hourly", 0, "keep the newest backup of each of the last N hours that have one")
	cmd.Flags().IntVar(&o.retention.KeepDaily, "keep-daily", 0, "keep the newest backup of each of the last N days (UTC) that have one")
	cmd.Flags().IntVar(&o.retention.KeepWeekly, "keep-weekly", 0, "keep the newest backup of each of the last N ISO weeks that have one")
	cmd.Flags().IntVar(&o.retention.KeepMonthly, "keep-monthly", 0, "keep the newest backup of each of the last N months that have one")
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
	for _, name := range []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly"} {
		if cmd.Flags().Changed(name) {
			s.Spec.Retention = &o.retention
		}
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
	for _, w := range retention.ShortTTL(s.Spec.Retention, spec.TTL.Duration) {
		fmt.Fprintf(cmd.ErrOrStderr(), "Warning: %s.\n", w)
	}
	return nil
}
