package backup

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewLogsCommand is `ark backup logs`.
func NewLogsCommand(f *clientcfg.Factory) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "logs NAME",
		Short:   "Print a backup's log (from object storage)",
		Example: "  ark backup logs nginx-backup",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			rc, err := download.Open(cmd.Context(), c, f.ResolvedNamespace(), arkv1.DownloadTargetKindBackupLog, args[0], timeout)
			if err != nil {
				return fmt.Errorf("backup %q log: %w", args[0], err)
			}
			defer rc.Close()
			return download.Gunzip(cmd.OutOrStdout(), rc)
		},
	}
	timeout = time.Minute
	cmd.Flags().Var(flags.Duration{D: &timeout}, "timeout", "how long to wait for the server to answer")
	return cmd
}
