// Package plugin is `ark plugin`: add and remove plugin images on the ark
// Deployment, and list what the running server loaded.
package plugin

import (
	"github.com/spf13/cobra"

	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewCommand is `ark plugin`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	c := &cobra.Command{
		Use:     "plugin",
		Aliases: []string{"plugins"},
		Short:   "Work with plugins",
		Long: `Plugins are binaries that add object stores, block stores and item actions
to the Ark server (docs/plugins.md). A plugin image is added to the ark
Deployment as an init container that copies its binaries into the plugins
volume, which the server loads from --plugin-dir (/plugins) when it starts.`,
	}
	c.AddCommand(NewAddCommand(f), NewRemoveCommand(f), NewGetCommand(f))
	return c
}
