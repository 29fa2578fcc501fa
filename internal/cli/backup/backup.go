package backup

import (
	"github.com/spf13/cobra"

	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewCommand is `ark backup`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	c := &cobra.Command{Use: "backup", Aliases: []string{"backups"}, Short: "Work with backups"}
	c.AddCommand(NewCreateCommand(f), NewGetCommand(f), NewDescribeCommand(f), NewLogsCommand(f),
		NewDownloadCommand(f), NewDeleteCommand(f), NewVerifyCommand(f), NewDiffCommand(f), NewCancelCommand(f))
	return c
}
