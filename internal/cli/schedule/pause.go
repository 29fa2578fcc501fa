package schedule

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewPauseCommand is `ark schedule pause`.
func NewPauseCommand(f *clientcfg.Factory) *cobra.Command {
	var all bool
	var selector string
	cmd := &cobra.Command{
		Use:   "pause [NAME...]",
		Short: "Pause schedules: they make no backups until unpaused",
		Long: `Pause schedules (spec.paused). A paused schedule makes no backups. When it is
unpaused, the run times missed meanwhile are skipped (no catch-up backup),
unless 'ark schedule unpause --catch-up' asks for one.`,
		Example: `  ark schedule pause daily
  ark schedule pause --all
  ark schedule pause -l team=a`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return setPaused(cmd, f, args, all, selector, true, false)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "pause every schedule")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "pause the schedules whose labels match")
	return cmd
}

// NewUnpauseCommand is `ark schedule unpause`.
func NewUnpauseCommand(f *clientcfg.Factory) *cobra.Command {
	var all, catchUp bool
	var selector string
	cmd := &cobra.Command{
		Use:   "unpause [NAME...]",
		Short: "Unpause schedules",
		Long: `Unpause schedules. The run times missed while a schedule was paused are
skipped: its next backup is at its next run time. With --catch-up it makes one
backup at once for the most recent run time it missed (as after a server
outage).`,
		Example: `  ark schedule unpause daily
  ark schedule unpause daily --catch-up
  ark schedule unpause --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return setPaused(cmd, f, args, all, selector, false, catchUp)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "unpause every schedule")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "unpause the schedules whose labels match")
	cmd.Flags().BoolVar(&catchUp, "catch-up", false, "make one backup for the most recent run time missed while paused")
	return cmd
}

func setPaused(cmd *cobra.Command, f *clientcfg.Factory, names []string, all bool, selector string, paused, catchUp bool) error {
	verb := "pause"
	if !paused {
		verb = "unpause"
	}
	if len(names) == 0 && !all && selector == "" {
		return fmt.Errorf("name the schedules to %s, or pass --all or --selector", verb)
	}
	if len(names) > 0 && (all || selector != "") {
		return fmt.Errorf("give either schedule names or --all/--selector, not both")
	}
	c, l, err := list(cmd, f, selector, names)
	if err != nil {
		return err
	}
	if len(l.Items) == 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "No schedules to %s.\n", verb)
		return nil
	}
	for i := range l.Items {
		s := &l.Items[i]
		orig := s.DeepCopy()
		s.Spec.Paused = paused
		// The annotation is read by the server when it sees the schedule
		// unpaused; an unpause without --catch-up removes an older one.
		if !paused {
			if catchUp {
				if s.Annotations == nil {
					s.Annotations = map[string]string{}
				}
				s.Annotations[arkv1.CatchUpAnnotation] = "true"
			} else {
				delete(s.Annotations, arkv1.CatchUpAnnotation)
			}
		}
		if err := c.Patch(cmd.Context(), s, client.MergeFrom(orig)); err != nil {
			return fmt.Errorf("%sing schedule %q: %w", verb, s.Name, err)
		}
		switch {
		case paused && orig.Spec.Paused:
			fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q is already paused.\n", s.Name)
		case paused:
			fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q paused: it makes no backups until `ark schedule unpause %s`.\n", s.Name, s.Name)
		case !orig.Spec.Paused:
			fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q is not paused.\n", s.Name)
		case catchUp:
			fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q unpaused: one catch-up backup for the latest run time it missed, then its usual runs.\n", s.Name)
		default:
			fmt.Fprintf(cmd.OutOrStdout(), "Schedule %q unpaused: the run times missed while paused are skipped; `ark schedule describe %s` shows the next ones.\n", s.Name, s.Name)
		}
	}
	return nil
}
