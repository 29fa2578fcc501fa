// Package schedule is `ark schedule`: create, get, describe, pause, unpause
// and delete Schedules, which make backups on a cron schedule.
package schedule

import (
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/lookup"
)

// NewCommand is `ark schedule`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	c := &cobra.Command{Use: "schedule", Aliases: []string{"schedules"}, Short: "Work with schedules"}
	c.AddCommand(NewCreateCommand(f), NewGetCommand(f), NewDescribeCommand(f), NewDeleteCommand(f), NewPauseCommand(f), NewUnpauseCommand(f))
	return c
}

// list returns the named schedules (all, or those matching selector, when
// names is empty), sorted by name.
func list(cmd *cobra.Command, f *clientcfg.Factory, selector string, names []string) (client.Client, *arkv1.ScheduleList, error) {
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	out := &arkv1.ScheduleList{}
	if err := lookup.Fetch(cmd.Context(), c, out, &out.Items, "schedule", f.ResolvedNamespace(), selector, names); err != nil {
		return nil, nil, err
	}
	return c, out, nil
}
