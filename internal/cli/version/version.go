// Package version is `ark version`.
package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/heptio/ark/internal/buildinfo"
)

// NewCommand is `ark version`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the ark version, git commit and Go version",
		Example: "  ark version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "Version: %s\nGit commit: %s\nGo version: %s\n",
				buildinfo.Version, buildinfo.GitCommit, buildinfo.GoVersion())
		},
	}
}
