package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/heptio/ark/internal/cli/clientcfg"
)

// NewAddCommand is `ark plugin add`.
func NewAddCommand(f *clientcfg.Factory) *cobra.Command {
	var pullPolicy string
	cmd := &cobra.Command{
		Use:   "add IMAGE",
		Short: "Add a plugin image to the ark Deployment",
		Long: `Add a plugin image to the ark Deployment: an init container of the image,
with the plugins volume mounted at /target, whose entrypoint copies the
image's plugin binaries there. The server, restarted by the Deployment's
rollout, loads them from /plugins. docs/plugins.md says how to build such an
image.`,
		Example: `  ark plugin add gcr.io/my-project/ark-dirstore:v1
  ark plugin add registry.example.com/ark-plugins:v2 --image-pull-policy Always`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			policy := corev1.PullPolicy(pullPolicy)
			switch policy {
			case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
			default:
				return fmt.Errorf("--image-pull-policy %q: use Always, IfNotPresent or Never", pullPolicy)
			}
			var name string
			err := updateDeployment(cmd.Context(), f, func(d *appsv1.Deployment) (err error) {
				name, err = addPlugin(d, args[0], policy)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Plugin image %s added to deployment %s/%s as init container %s; the server loads it when the new pod starts ('ark plugin get' lists what it loaded).\n",
				args[0], f.ResolvedNamespace(), DeploymentName, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&pullPolicy, "image-pull-policy", string(corev1.PullIfNotPresent), "pull policy of the plugin image: Always, IfNotPresent or Never")
	return cmd
}

// updateDeployment reads the ark Deployment, changes it, and writes it
// back, again on a conflict with another writer.
func updateDeployment(ctx context.Context, f *clientcfg.Factory, change func(*appsv1.Deployment) error) error {
	c, err := f.Client()
	if err != nil {
		return err
	}
	ns := f.ResolvedNamespace()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: DeploymentName}, &d); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("deployment %s/%s not found: install the server first (kubectl apply -f examples/common/10-deployment.yaml, or 'ark install'), or give its namespace with -n", ns, DeploymentName)
			}
			return err
		}
		if err := change(&d); err != nil {
			return err
		}
		return c.Update(ctx, &d)
	})
}
