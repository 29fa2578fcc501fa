// Package cli builds the ark command tree: one package per noun, plus the
// kubectl-style verb-noun aliases (ark get backups, ark create backup ...).
package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/heptio/ark/internal/cli/backup"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/completion"
	"github.com/heptio/ark/internal/cli/install"
	"github.com/heptio/ark/internal/cli/plugin"
	"github.com/heptio/ark/internal/cli/restore"
	"github.com/heptio/ark/internal/cli/schedule"
	"github.com/heptio/ark/internal/cli/serve"
	"github.com/heptio/ark/internal/cli/version"
)

// NewRootCommand returns the whole ark command tree.
func NewRootCommand() *cobra.Command {
	f := &clientcfg.Factory{}
	root := &cobra.Command{
		Use:   "ark",
		Short: "Back up and restore Kubernetes cluster resources",
		Long: `Heptio Ark backs up a Kubernetes cluster's objects (all of them, or chosen
namespaces, resources and labels) into object storage, snapshots its
persistent volumes, and restores either into the same cluster or a new one.`,
		Example: `  # the docs' basic example: back up the nginx app, lose it, restore it
  kubectl apply -f examples/nginx-app/base.yaml
  ark backup create nginx-backup --selector app=nginx --wait
  kubectl delete namespaces nginx-example
  ark restore create nginx-backup --wait

  # install the server (docs/cloud-providers.md)
  ark install --provider aws --bucket my-bucket --secret-file ./credentials-ark --config region=us-east-1`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f.BindFlags(root.PersistentFlags())
	root.AddCommand(
		backup.NewCommand(f),
		restore.NewCommand(f),
		schedule.NewCommand(f),
		serve.NewCommand(f),
		clientcfg.NewCommand(),
		version.NewCommand(),
		install.NewInstallCommand(f),
		install.NewUninstallCommand(f),
		plugin.NewCommand(f),
		completion.NewCommand(),
		verb("create", "Create a backup, restore or schedule", map[string]*cobra.Command{"backup": backup.NewCreateCommand(f), "restore": restore.NewCreateCommand(f), "schedule": schedule.NewCreateCommand(f)}),
		verb("get", "List backups, restores or schedules", map[string]*cobra.Command{"backup": backup.NewGetCommand(f), "restore": restore.NewGetCommand(f), "schedule": schedule.NewGetCommand(f)}),
		verb("describe", "Describe backups, restores or schedules", map[string]*cobra.Command{"backup": backup.NewDescribeCommand(f), "restore": restore.NewDescribeCommand(f), "schedule": schedule.NewDescribeCommand(f)}),
		verb("delete", "Delete backups, restores or schedules", map[string]*cobra.Command{"backup": backup.NewDeleteCommand(f), "restore": restore.NewDeleteCommand(f), "schedule": schedule.NewDeleteCommand(f)}),
		verb("logs", "Print the log of a backup or restore", map[string]*cobra.Command{"backup": backup.NewLogsCommand(f), "restore": restore.NewLogsCommand(f)}),
	)
	addGroupExamples(root)
	return root
}

// verb makes `ark VERB NOUN` from the noun commands' own VERB commands,
// keyed by noun (backup, restore, ...), which answer to the plural too.
func verb(name, short string, nouns map[string]*cobra.Command) *cobra.Command {
	v := &cobra.Command{Use: name, Short: short}
	for noun, c := range nouns {
		rest := ""
		if i := strings.IndexByte(c.Use, ' '); i >= 0 {
			rest = c.Use[i:]
		}
		c.Use = noun + rest
		c.Aliases = []string{noun + "s"}
		v.AddCommand(c)
	}
	return v
}
