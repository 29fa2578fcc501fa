// Package schedule is `ark schedule`: create, get, describe and delete
// Schedules, which make backups on a cron schedule.
package schedule

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewCommand is `ark schedule`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	c := &cobra.Command{Use: "schedule", Aliases: []string{"schedules"}, Short: "Work with schedules"}
	c.AddCommand(NewCreateCommand(f), NewGetCommand(f), NewDescribeCommand(f), NewDeleteCommand(f))
	return c
}

// list returns the named schedules (all, or those matching selector, when
// names is empty), sorted by name.
func list(cmd *cobra.Command, f *clientcfg.Factory, selector string, names []string) (client.Client, *arkv1.ScheduleList, error) {
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	ns := f.ResolvedNamespace()
	out := &arkv1.ScheduleList{}
	if len(names) > 0 {
		for _, n := range names {
			var s arkv1.Schedule
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: n}, &s); err != nil {
				return nil, nil, fmt.Errorf("schedule %q: %w", n, err)
			}
			out.Items = append(out.Items, s)
		}
		return c, out, nil
	}
	opts, err := flags.ListOptions(ns, selector)
	if err != nil {
		return nil, nil, err
	}
	if err := c.List(cmd.Context(), out, opts...); err != nil {
		return nil, nil, err
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	return c, out, nil
}
