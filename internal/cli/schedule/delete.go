package schedule

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewDeleteCommand is `ark schedule delete`. The schedule's backups stay.
func NewDeleteCommand(f *clientcfg.Factory) *cobra.Command {
	var all bool
	var selector string
	cmd := &cobra.Command{
		Use:   "delete [NAME...]",
		Short: "Delete schedules (the backups they made stay)",
		Example: `  ark schedule delete full
  ark schedule delete --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all && selector == "" {
				return fmt.Errorf("name the schedules to delete, or pass --all or --selector")
			}
			if len(args) > 0 && (all || selector != "") {
				return fmt.Errorf("give either schedule names or --all/--selector, not both")
			}
			c, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			if len(l.Items) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No schedules to delete.")
				return nil
			}
			for i := range l.Items {
				s := &l.Items[i]
				if err := client.IgnoreNotFound(c.Delete(cmd.Context(), s)); err != nil {
					return fmt.Errorf("deleting schedule %q: %w", s.Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q deleted. The backups it made are kept: delete them with `ark backup delete --selector %s=%s`.\n",
					s.Name, arkv1.ScheduleNameLabel, arkv1.LabelValue(s.Name))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "delete every schedule")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete the schedules whose labels match")
	return cmd
}
