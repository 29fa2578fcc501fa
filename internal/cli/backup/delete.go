package backup

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewDeleteCommand is `ark backup delete`: it asks the server, through a
// DeleteBackupRequest, to delete the backups' data, snapshots and restores.
func NewDeleteCommand(f *clientcfg.Factory) *cobra.Command {
	var confirm, all bool
	var selector string
	cmd := &cobra.Command{
		Use:   "delete [NAME...]",
		Short: "Delete backups: their files in object storage, volume snapshots, restores, and the Backup objects",
		Example: `  ark backup delete nginx-backup --confirm
  ark backup delete --all --confirm
  ark backup delete -l ark-schedule=daily`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all && selector == "" {
				return fmt.Errorf("name the backups to delete, or pass --all or --selector")
			}
			if len(args) > 0 && (all || selector != "") {
				return fmt.Errorf("give either backup names or --all/--selector, not both")
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			names := args
			if len(args) == 0 {
				list, err := List(cmd, c, ns, selector, nil)
				if err != nil {
					return err
				}
				for _, b := range list.Items {
					names = append(names, b.Name)
				}
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No backups to delete.")
				return nil
			}
			// A named backup need not be in the cluster: the server also
			// deletes backups it finds only in object storage.
			for _, n := range args {
				err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: n}, &arkv1.Backup{})
				if apierrors.IsNotFound(err) {
					fmt.Fprintf(cmd.OutOrStdout(), "Backup %q is not in the cluster; the server will delete it from object storage if it is there.\n", n)
				} else if err != nil {
					return fmt.Errorf("backup %q: %w", n, err)
				}
			}
			if !confirm {
				fmt.Fprintf(cmd.OutOrStdout(), "Delete backups %s and all their data (files, snapshots, restores)? [y/N]: ", strings.Join(names, ", "))
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					fmt.Fprintln(cmd.OutOrStdout(), "Cancelled: nothing was deleted.")
					return nil
				}
			}
			for _, name := range names {
				req := arkv1.NewDeleteBackupRequest(ns, name)
				if err := c.Create(cmd.Context(), req); err != nil {
					return fmt.Errorf("requesting deletion of backup %q: %w", name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Request to delete backup %q submitted successfully.\nThe backup will be fully deleted after all associated data (disk snapshots, backup files, restores) are removed.\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&confirm, "confirm", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&all, "all", false, "delete every backup")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete the backups whose labels match")
	return cmd
}
