package restore

import (
	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/cancel"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewCancelCommand is `ark restore cancel`: it sets spec.cancel, which the
// server watches.
func NewCancelCommand(f *clientcfg.Factory) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel NAME [NAME...]",
		Short: "Stop running restores; what they created stays",
		Long: `Cancel restores. A restore that has not started never starts; one that is
running stops creating objects within seconds, keeps those it created, and
ends in phase Cancelled with the counts of the items restored and not
restored ('ark restore describe' shows them; its log and results are stored
as for any restore). A finished restore is left as it is. A cancel survives
a restart of the server.`,
		Example: `  ark restore cancel nginx-backup-20260301120000
  ark restore cancel big-restore --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			return cancel.Run(cmd, c, f.ResolvedNamespace(), args, wait, cancelKind)
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the restores have stopped")
	return cmd
}

var cancelKind = cancel.Kind[*arkv1.Restore]{
	Name:      "restore",
	New:       func() *arkv1.Restore { return &arkv1.Restore{} },
	Phase:     func(o *arkv1.Restore) string { return string(o.Status.Phase) },
	Reason:    func(o *arkv1.Restore) string { return o.Status.FailureReason },
	Cancel:    func(o *arkv1.Restore) *bool { return &o.Spec.Cancel },
	Running:   []string{"", string(arkv1.RestorePhaseNew), string(arkv1.RestorePhaseInProgress)},
	Cancelled: string(arkv1.RestorePhaseCancelled),
	Wait:      Wait,
}
