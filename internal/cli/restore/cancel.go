package restore

import (
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
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
			ns := f.ResolvedNamespace()
			out := cmd.OutOrStdout()
			var asked []string
			for _, name := range args {
				var b arkv1.Restore
				if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("restore %q not found in namespace %s: check the name with 'ark restore get'", name, ns)
					}
					return fmt.Errorf("restore %q: %w", name, err)
				}
				switch b.Status.Phase {
				case "", arkv1.RestorePhaseNew, arkv1.RestorePhaseInProgress:
				default:
					fmt.Fprintf(out, "Restore %q is %s: there is nothing to cancel.\n", name, b.Status.Phase)
					continue
				}
				if !b.Spec.Cancel {
					patch := client.MergeFrom(b.DeepCopy())
					b.Spec.Cancel = true
					if err := c.Patch(cmd.Context(), &b, patch); err != nil {
						return fmt.Errorf("cancelling restore %q: %w", name, err)
					}
				}
				fmt.Fprintf(out, "Request to cancel restore %q submitted successfully.\n", name)
				asked = append(asked, name)
			}
			if !wait {
				return nil
			}
			for _, name := range asked {
				err := Wait(cmd.Context(), cmd, c, ns, name)
				var b arkv1.Restore
				if gerr := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: name}, &b); gerr == nil && b.Status.Phase == arkv1.RestorePhaseCancelled {
					fmt.Fprintf(out, "  %s\n", b.Status.FailureReason)
					continue // what was asked for
				}
				if err == nil {
					err = fmt.Errorf("restore %s finished before the cancel reached it", name)
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "wait until the restores have stopped")
	return cmd
}
