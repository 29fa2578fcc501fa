package backup

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewLogsCommand is `ark backup logs`.
func NewLogsCommand(f *clientcfg.Factory) *cobra.Command {
	var timeout time.Duration
	var keyFile string
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a backup's log (from object storage)",
		Long: `Print a backup's log. The log of an encrypted backup is decrypted here, with
the age identities of --key-file, else with the encryption Secret the Config
names (see docs/encryption.md).`,
		Example: "  ark backup logs nginx-backup\n  ark backup logs nginx-backup --key-file key.txt",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			recipient := ""
			var b arkv1.Backup
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: args[0]}, &b); err == nil && b.Status.Encryption != nil {
				recipient = b.Status.Encryption.Recipient
			}
			rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindBackupLog, args[0], timeout)
			if err != nil {
				return fmt.Errorf("backup %q log: %w", args[0], err)
			}
			defer rc.Close()
			body, err := download.Decrypting(cmd.Context(), rc, download.Keys{File: keyFile, Client: c, Namespace: ns}, recipient)
			if err != nil {
				return fmt.Errorf("backup %q log: %w", args[0], err)
			}
			return download.Gunzip(cmd.OutOrStdout(), body)
		},
	}
	timeout = time.Minute
	cmd.Flags().Var(flags.Duration{D: &timeout}, "timeout", "how long to wait for the server to answer")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "age identities file that decrypts the log of an encrypted backup (default: the Config's encryption Secret)")
	return cmd
}
