package backup

import (
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
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
			ns := f.ResolvedNamespace()
			out := cmd.OutOrStdout()
			var asked []string
			for _, name := range args {
				var b arkv1.Backup
				if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("backup %q not found in namespace %s: check the name with 'ark backup get'", name, ns)
					}
					return fmt.Errorf("backup %q: %w", name, err)
				}
				switch b.Status.Phase {
				case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
				default:
					fmt.Fprintf(out, "Backup %q is %s: there is nothing to cancel (to remove it, use 'ark backup delete %s').\n", name, b.Status.Phase, name)
					continue
				}
				if !b.Spec.Cancel {
					patch := client.MergeFrom(b.DeepCopy())
					b.Spec.Cancel = true
					if err := c.Patch(cmd.Context(), &b, patch); err != nil {
						return fmt.Errorf("cancelling backup %q: %w", name, err)
					}
				}
				fmt.Fprintf(out, "Request to cancel backup %q submitted successfully.\n", name)
				asked = append(asked, name)
			}
			if !wait {
				return nil
			}
			for _, name := range asked {
				err := Wait(cmd.Context(), cmd, c, ns, name)
				var b arkv1.Backup
				if gerr := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); gerr == nil && b.Status.Phase == arkv1.BackupPhaseCancelled {
					fmt.Fprintf(out, "  %s\n", b.Status.FailureReason)
					continue // what was asked for
				}
				if err == nil {
					err = fmt.Errorf("backup %s finished before the cancel reached it", name)
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the backups have stopped")
	return cmd
}
