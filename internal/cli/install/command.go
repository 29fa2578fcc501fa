package install

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
)

// NewInstallCommand is `ark install`.
func NewInstallCommand(f *clientcfg.Factory) *cobra.Command {
	var (
		opts                   Options
		secretFile, output     string
		configPairs, snapPairs []string
		dryRun                 bool
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the Ark server into a cluster",
		Long: `Install the Ark server: the namespace, service account, RBAC and CRDs of
examples/common/00-prereqs.yaml, the cloud-credentials secret made from
--secret-file, the provider's Config and the Deployment. These are the
example files the docs apply with kubectl, with your values set in them;
'ark install --dry-run -o yaml' prints them instead of applying them.

Objects are applied with server-side apply, so running it again updates
an installation. Providers and their --secret-file:

  aws         the IAM user's credentials file ([default] aws_access_key_id=...)
  gcp         the service account's JSON key file
  azure       KEY=VALUE lines: AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID,
              AZURE_RESOURCE_GROUP, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
              AZURE_STORAGE_ACCOUNT_ID, AZURE_STORAGE_KEY
  minio       none: MinIO runs in the cluster (examples/minio), bucket "ark"
  filesystem  none: backups are files on a PersistentVolumeClaim

--config and --snapshot-location-config set the Config's
backupStorageProvider.config and persistentVolumeProvider.config (see
docs/config-reference.md); without --snapshot-location-config, volumes are
not snapshotted.`,
		Example: `  # AWS: S3 bucket and EBS snapshots in us-east-1
  ark install --provider aws --bucket my-ark-bucket --secret-file ./credentials-ark \
      --config region=us-east-1 --snapshot-location-config region=us-east-1

  # GCP
  ark install --provider gcp --bucket my-ark-bucket --secret-file ./credentials-ark \
      --snapshot-location-config project=my-project

  # Azure (the secret file holds the seven AZURE_* variables)
  ark install --provider azure --bucket my-container --secret-file ./azure.env \
      --snapshot-location-config location=eastus,apiTimeout=5m

  # MinIO in the cluster, nothing to prepare
  ark install --provider minio

  # Print the manifests instead of applying them
  ark install --provider minio --dry-run -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && !dryRun {
				return fmt.Errorf("-o/--output prints the manifests and needs --dry-run")
			}
			if output == "" {
				output = "yaml"
			}
			if output != "yaml" && output != "json" {
				return fmt.Errorf("unknown output format %q: use yaml or json", output)
			}
			var err error
			if opts.Config, err = flags.Map("--config", configPairs, "="); err != nil {
				return err
			}
			if opts.SnapshotConfig, err = flags.Map("--snapshot-location-config", snapPairs, "="); err != nil {
				return err
			}
			if secretFile != "" {
				if opts.Credentials, err = os.ReadFile(secretFile); err != nil {
					return fmt.Errorf("--secret-file: %w", err)
				}
			}
			opts.Namespace = f.ResolvedNamespace()
			rendered, err := Render(opts)
			if err != nil {
				return err
			}
			for _, n := range rendered.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "Note:", n)
			}
			if dryRun {
				return Print(cmd.OutOrStdout(), output, rendered.Objects)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			if err := Apply(cmd.Context(), c, rendered.Objects, cmd.OutOrStdout()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Ark is installed in namespace %s. Check the server with 'kubectl -n %s get deployment/ark' and 'kubectl -n %s logs deployment/ark'.\n",
				opts.Namespace, opts.Namespace, opts.Namespace)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Provider, "provider", "", "where backups go: "+strings.Join(Providers, ", "))
	fl.StringVar(&opts.Bucket, "bucket", "", "the bucket (Azure: blob container) backups go to; required for aws, gcp and azure, \"ark\" for minio and filesystem")
	fl.StringVar(&opts.StoragePrefix, "storage-prefix", "", "a directory inside the bucket for the backups (backupStorageProvider.prefix), e.g. cluster-a, so several clusters or tools share one bucket; empty: the bucket's top")
	fl.StringVar(&secretFile, "secret-file", "", "file whose contents become the cloud-credentials secret (see above)")
	fl.StringSliceVar(&configPairs, "config", nil, "backupStorageProvider.config as key=value pairs, e.g. region=us-east-1")
	fl.StringSliceVar(&snapPairs, "snapshot-location-config", nil, "persistentVolumeProvider.config as key=value pairs, e.g. region=us-east-1")
	fl.StringVar(&opts.Image, "image", DefaultImage, "the Ark server's image")
	fl.BoolVar(&dryRun, "dry-run", false, "print the manifests instead of applying them")
	fl.StringVarP(&output, "output", "o", "", "with --dry-run: yaml (default) or json")
	_ = cmd.MarkFlagRequired("provider")
	return cmd
}

// NewUninstallCommand is `ark uninstall`.
func NewUninstallCommand(f *clientcfg.Factory) *cobra.Command {
	var opts UninstallOptions
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the Ark server from a cluster, keeping the backups",
		Long: `Remove what 'ark install' and the examples create: the Deployment first,
then the ClusterRole and ClusterRoleBinding, then the namespace (which takes
the service account, Role, secret, Config and Ark's objects with it). A
namespace Ark did not create (it lacks the label component=ark) is kept and
Ark's objects in it are deleted one by one. With --crds the
CustomResourceDefinitions go too, and with them every Backup, Restore and
Schedule object in the cluster.

Backup data is never touched: the archives in object storage stay where
they are (a new installation on the same bucket syncs them back), the
in-cluster MinIO and the directory store's volume claim are kept, and the
legacy gc.ark.heptio.com finalizer of Ark v0.7 is removed from Backups so
nothing waits for a server that is gone. Uninstall waits at most --timeout
for the namespace to go, then says what holds it.`,
		Example: `  ark uninstall
  ark uninstall --crds
  ark uninstall -n backup-system --timeout 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			opts.Namespace = f.ResolvedNamespace()
			return Uninstall(cmd.Context(), c, opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&opts.CRDs, "crds", false, "also delete Ark's CustomResourceDefinitions (and every Ark object in the cluster)")
	opts.Wait = 2 * time.Minute
	cmd.Flags().Var(flags.Duration{D: &opts.Wait}, "timeout", "how long to wait for the namespace to be deleted (0: do not wait)")
	return cmd
}

// Print writes objs as one YAML stream (documents separated by ---) or as a
// JSON List, both of which kubectl apply -f accepts.
func Print(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	if format == "json" {
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		data, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(data))
		return err
	}
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}
