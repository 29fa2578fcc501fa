package backup

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewDownloadCommand is `ark backup download`.
func NewDownloadCommand(f *clientcfg.Factory) *cobra.Command {
	var out string
	var force bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "download NAME",
		Short: "Download a backup's archive (the tar.gz of its objects)",
		Example: `  ark backup download nginx-backup                 # writes nginx-backup-data.tar.gz
  ark backup download nginx-backup -o /tmp/b.tar.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if out == "" {
				out = name + "-data.tar.gz"
			}
			flag := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			rc, err := download.Open(cmd.Context(), c, f.ResolvedNamespace(), arkv1.DownloadTargetKindBackupContents, name, timeout)
			if err != nil {
				return fmt.Errorf("backup %q: %w", name, err)
			}
			defer rc.Close()
			// The archive holds every Secret of the backup: private to
			// the user who downloaded it.
			file, err := os.OpenFile(out, flag, 0o600)
			if os.IsExist(err) {
				return fmt.Errorf("%s already exists: pass --force to overwrite it, or -o another path", out)
			}
			if err != nil {
				return err
			}
			n, err := io.Copy(file, rc)
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return fmt.Errorf("downloading backup %q: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Backup %s has been downloaded to %s (%d bytes).\n", name, out, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default NAME-data.tar.gz)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite the output file if it exists")
	timeout = time.Minute
	cmd.Flags().Var(flags.Duration{D: &timeout}, "timeout", "how long to wait for the server to answer")
	return cmd
}
