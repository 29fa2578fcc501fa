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
		Long: `Delete backups: a DeleteBackupRequest per backup, which the server carries
out (volume snapshots, files in object storage, restores, then the Backup).

A backup written by another tool (Heptio Ark v0.10–v0.11 or Velero, see the
ORIGIN column of 'ark backup get') is refused, as is any backup of a location
that holds such backups: Ark writes and deletes nothing there unless the
Config sets backupStorageProvider.allowWritesAlongsideOtherTools: true.`,
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
			var refused []string
			kept := names[:0:0]
			for _, n := range names {
				var b arkv1.Backup
				err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: n}, &b)
				switch {
				case apierrors.IsNotFound(err):
					fmt.Fprintf(cmd.OutOrStdout(), "Backup %q is not in the cluster; the server will delete it from object storage if it is there.\n", n)
				case err != nil:
					return fmt.Errorf("backup %q: %w", n, err)
				default:
					if why, err := otherToolsBackup(cmd, c, ns, &b); err != nil {
						return err
					} else if why != "" {
						refused = append(refused, why)
						continue
					}
				}
				kept = append(kept, n)
			}
			if len(refused) > 0 {
				// Named backups are refused as a whole; of --all or a
				// selector, the others are still deleted.
				if len(args) > 0 {
					return fmt.Errorf("nothing was deleted:\n  %s", strings.Join(refused, "\n  "))
				}
				for _, why := range refused {
					fmt.Fprintf(cmd.OutOrStdout(), "Skipped: %s\n", why)
				}
			}
			names = kept
			if len(names) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "No backups to delete.")
				return nil
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

// otherToolsBackup says why a backup written by another tool is not Ark's to
// delete, or "" when it is Ark's own or the Config allows it. The server
// refuses it too (and any backup of a location holding such backups); this
// says so before any request is made.
func otherToolsBackup(cmd *cobra.Command, c client.Client, ns string, b *arkv1.Backup) (string, error) {
	o := b.Status.Origin
	if o == nil || o.Layout == arkv1.BackupLayoutArk {
		return "", nil
	}
	var cfg arkv1.Config
	err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: arkv1.DefaultConfigName}, &cfg)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading Config %s/%s: %w", ns, arkv1.DefaultConfigName, err)
	}
	if err == nil && cfg.BackupStorageProvider.AllowWritesAlongsideOtherTools {
		return "", nil
	}
	return fmt.Sprintf("backup %q was written by %s, and Ark deletes nothing in a location that holds another tool's backups: delete it with %s, or let Ark write there by setting backupStorageProvider.allowWritesAlongsideOtherTools: true ('kubectl -n %s edit config %s')",
		b.Name, o.WrittenBy, o.WrittenBy, ns, arkv1.DefaultConfigName), nil
}
