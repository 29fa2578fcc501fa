package plugin

import (
	"fmt"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewRemoveCommand is `ark plugin remove`.
func NewRemoveCommand(f *clientcfg.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "remove IMAGE|NAME",
		Short: "Remove a plugin image from the ark Deployment",
		Long: `Remove a plugin's init container, named by its image or its container name,
from the ark Deployment. The new pod starts with an empty plugins volume, so
the server no longer loads the image's plugins.`,
		Example: `  ark plugin remove gcr.io/my-project/ark-dirstore:v1
  ark plugin remove ark-dirstore`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var name string
			err := updateDeployment(cmd.Context(), f, func(d *appsv1.Deployment) (err error) {
				name, err = removePlugin(d, args[0])
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Plugin init container %s removed from deployment %s/%s.\n", name, f.ResolvedNamespace(), DeploymentName)
			return nil
		},
	}
}
