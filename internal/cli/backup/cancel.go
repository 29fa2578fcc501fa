package backup

import (
	"fmt"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/cancel"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewCancelCommand is `ark backup cancel`: it sets spec.cancel, which the
// server watches.
func NewCancelCommand(f *clientcfg.Factory) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel NAME [NAME...]",
		Short: "Stop running backups; what they wrote is deleted",
		Long: `Cancel backups. A backup that has not started never starts; one that is
running stops within seconds and the server deletes what it wrote (its files
in object storage and the volume snapshots it took). Either ends in phase
Cancelled. A finished backup is left as it is: to remove one, use
'ark backup delete'. A cancel survives a restart of the server.`,
		Example: `  ark backup cancel nightly-20260301020000
  ark backup cancel big-backup --wait`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			return cancel.Run(cmd, c, f.ResolvedNamespace(), args, wait, cancelKind)
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the backups have stopped")
	return cmd
}

var cancelKind = cancel.Kind[*arkv1.Backup]{
	Name:      "backup",
	New:       func() *arkv1.Backup { return &arkv1.Backup{} },
	Phase:     func(o *arkv1.Backup) string { return string(o.Status.Phase) },
	Reason:    func(o *arkv1.Backup) string { return o.Status.FailureReason },
	Cancel:    func(o *arkv1.Backup) *bool { return &o.Spec.Cancel },
	Running:   []string{"", string(arkv1.BackupPhaseNew), string(arkv1.BackupPhaseInProgress)},
	Cancelled: string(arkv1.BackupPhaseCancelled),
	NothingToCancel: func(name string) string {
		return fmt.Sprintf("to remove it, use 'ark backup delete %s'", name)
	},
	Wait: Wait,
}
