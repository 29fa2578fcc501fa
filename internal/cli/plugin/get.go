package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/output"
)

// NewGetCommand is `ark plugin get`.
func NewGetCommand(f *clientcfg.Factory) *cobra.Command {
	var (
		format  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "get",
		Short: "List the plugins the running server loaded",
		Long: `List the plugins the running server loaded: kind, name, binary and version.
Only the server sees its plugin directory, so this asks it through a
ServerStatusRequest and prints its answer.`,
		Example: `  ark plugin get
  ark plugin get -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.Validate(format, "table", "json", "yaml"); err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			ssr, err := askServer(cmd.Context(), c, f.ResolvedNamespace(), timeout)
			if err != nil {
				return err
			}
			if format != "table" {
				return output.Object(cmd.OutOrStdout(), format, ssr)
			}
			st := ssr.Status
			for _, e := range st.PluginErrors {
				fmt.Fprintf(cmd.ErrOrStderr(), "not loaded: %s\n", e)
			}
			if len(st.Plugins) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "The server (version %s) loaded no plugins from %s.\n", st.ServerVersion, output.Or(st.PluginDir, "its plugin directory"))
				return nil
			}
			var rows [][]string
			for _, p := range st.Plugins {
				rows = append(rows, []string{p.Kind, p.Name, p.Binary, output.Or(p.Version, "<none>")})
			}
			return output.Table(cmd.OutOrStdout(), []string{"KIND", "NAME", "BINARY", "VERSION"}, rows)
		},
	}
	output.BindFlag(cmd, &format, "table", "table", "json", "yaml")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the server's answer")
	return cmd
}

// askServer creates a ServerStatusRequest and waits for the server's
// answer; the request is deleted afterwards.
func askServer(ctx context.Context, c client.Client, namespace string, timeout time.Duration) (*arkv1.ServerStatusRequest, error) {
	ssr := &arkv1.ServerStatusRequest{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: "ark-plugin-get-"}}
	if err := c.Create(ctx, ssr); err != nil {
		return nil, fmt.Errorf("creating a server status request: %w", err)
	}
	defer func() { _ = c.Delete(context.Background(), ssr) }()
	deadline := time.Now().Add(timeout)
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ssr), ssr); err != nil {
			return nil, err
		}
		if ssr.Status.Phase == arkv1.ServerStatusRequestPhaseProcessed {
			return ssr, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the Ark server did not answer within %s: check that it runs ('kubectl -n %s get pods', 'kubectl -n %s logs deployment/ark')", timeout, namespace, namespace)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
