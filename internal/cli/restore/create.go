// Package restore is `ark restore`: create, get, describe, logs and delete
// restores.
package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/cli/wait"
	"github.com/heptio/ark/internal/restore"
)

type createOptions struct {
	fromBackup              string
	includeNamespaces       []string
	excludeNamespaces       []string
	includeResources        []string
	excludeResources        []string
	namespaceMappings       []string
	selector                string
	restoreVolumes          flags.OptionalBool
	includeClusterResources flags.OptionalBool
	labels                  []string
	output                  string
	wait                    bool
	dryRun                  bool
}

// NewCreateCommand is `ark restore create`.
func NewCreateCommand(f *clientcfg.Factory) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create [NAME] --from-backup BACKUP | create BACKUP",
		Short: "Restore a backup",
		Long: `Restore a backup into the cluster. Objects that already exist are left as
they are and reported as warnings; nothing is ever overwritten.

With one argument and no --from-backup, the argument is the backup and the
restore is named <backup>-<YYYYMMDDHHMMSS>.`,
		Example: `  ark restore create nginx-backup
  ark restore create --from-backup nginx-backup --wait
  ark restore create copy --from-backup nginx-backup --namespace-mappings nginx-example:nginx-copy
  ark restore create --from-backup full --include-namespaces team-a --exclude-resources secrets`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.fromBackup, "from-backup", "", "the backup to restore")
	fl.StringSliceVar(&o.includeNamespaces, "include-namespaces", []string{"*"}, "namespaces of the backup to restore (* for all)")
	fl.StringSliceVar(&o.excludeNamespaces, "exclude-namespaces", nil, "namespaces of the backup to leave out")
	fl.StringSliceVar(&o.includeResources, "include-resources", nil, "resources to restore (default: all)")
	fl.StringSliceVar(&o.excludeResources, "exclude-resources", nil, "resources to leave out")
	fl.StringSliceVar(&o.namespaceMappings, "namespace-mappings", nil, "restore namespaces under other names: src1:dst1,src2:dst2")
	fl.StringVarP(&o.selector, "selector", "l", "", "only restore objects whose labels match")
	fl.Var(&o.restoreVolumes, "restore-volumes", "create volumes from the backup's snapshots (default: yes when it has any)")
	fl.Var(&o.includeClusterResources, "include-cluster-resources", "restore cluster-scoped resources (default: only when all namespaces are restored)")
	fl.Lookup("restore-volumes").NoOptDefVal = "true"
	fl.Lookup("include-cluster-resources").NoOptDefVal = "true"
	fl.StringSliceVar(&o.labels, "labels", nil, "labels to put on the Restore (k1=v1,k2=v2)")
	fl.BoolVarP(&o.wait, "wait", "w", false, "wait for the restore to finish, showing its progress")
	fl.BoolVar(&o.dryRun, "dry-run", false, "preview the restore: the server runs the whole plan through the API server's own dry run, creates nothing, and ends Previewed with what each item would do ('ark restore describe NAME --details')")
	output.BindFlag(cmd, &o.output, "", "json", "yaml")
	return cmd
}

func (o *createOptions) run(cmd *cobra.Command, f *clientcfg.Factory, args []string) error {
	if o.output != "" {
		if err := output.Validate(o.output, "json", "yaml"); err != nil {
			return err
		}
	}
	backupName, name := o.fromBackup, ""
	switch {
	case backupName == "" && len(args) == 1:
		backupName = args[0]
	case backupName == "":
		return fmt.Errorf("name the backup to restore: ark restore create BACKUP, or --from-backup BACKUP")
	case len(args) == 1:
		name = args[0]
	}
	if name == "" {
		name = arkv1.RestoreName(backupName, time.Now())
	}
	mapping, err := flags.Map("--namespace-mappings", o.namespaceMappings, ":")
	if err != nil {
		return err
	}
	labels, err := flags.Labels(o.labels)
	if err != nil {
		return err
	}
	sel, err := flags.Selector(o.selector)
	if err != nil {
		return err
	}
	ns := f.ResolvedNamespace()
	r := &arkv1.Restore{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: arkv1.RestoreSpec{
			BackupName:              backupName,
			IncludedNamespaces:      o.includeNamespaces,
			ExcludedNamespaces:      o.excludeNamespaces,
			IncludedResources:       o.includeResources,
			ExcludedResources:       o.excludeResources,
			NamespaceMapping:        mapping,
			LabelSelector:           sel,
			RestorePVs:              o.restoreVolumes.Value,
			IncludeClusterResources: o.includeClusterResources.Value,
			DryRun:                  o.dryRun,
		},
	}
	arkv1.SetBackupNameLabel(r, backupName)
	// The server validates it the same way (with the cluster's discovery
	// too); failing here loses nothing.
	if problems := restore.Validate(r.Spec, nil, backupName, nil); len(problems) > 0 {
		return fmt.Errorf("restore %q is not valid:\n  %s", name, strings.Join(problems, "\n  "))
	}
	if o.output != "" {
		return output.Object(cmd.OutOrStdout(), o.output, r)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	if err := c.Create(cmd.Context(), r); err != nil {
		return fmt.Errorf("creating restore %q: %w", name, err)
	}
	out := cmd.OutOrStdout()
	if o.dryRun {
		fmt.Fprintf(out, "Dry-run restore %q submitted successfully: nothing will be created.\n", name)
	} else {
		fmt.Fprintf(out, "Restore request %q submitted successfully.\n", name)
	}
	if !o.wait {
		fmt.Fprintf(out, "Run `ark restore describe %s` for more details.\n", name)
		return nil
	}
	return Wait(cmd.Context(), cmd, c, ns, name)
}

// Wait follows a restore to its end and fails unless it Completed.
func Wait(ctx context.Context, cmd *cobra.Command, c client.Client, ns, name string) error {
	out := cmd.OutOrStdout()
	var r arkv1.Restore
	st, err := wait.Follow(ctx, out, "restore", ns, func(ctx context.Context) (wait.State, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &r); err != nil {
			return wait.State{}, err
		}
		st := wait.State{Phase: string(r.Status.Phase), ValidationErrors: r.Status.ValidationErrors, FailureReason: r.Status.FailureReason}
		if p := r.Status.Progress; p != nil {
			st.Progress = wait.Progress(p.ItemsRestored, p.TotalItems, "restored", p.CurrentResource)
		}
		return st, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Restore %s: %s", name, r.Status.Phase)
	if pr := r.Status.Progress; pr != nil {
		fmt.Fprintf(out, " (%d items restored, %d warnings, %d errors)", pr.ItemsRestored, r.Status.Warnings, r.Status.Errors)
	}
	fmt.Fprintln(out)
	if p := r.Status.Plan; p != nil {
		fmt.Fprintf(out, "Plan: %d would be created, %d exist as backed up, %d exist and differ, %d would fail, %d could not be checked. Run `ark restore describe %s --details` for every item.\n",
			p.WouldCreate, p.Identical, p.Differs, p.WouldFail, p.NotChecked, name)
	}
	if r.Status.Phase == arkv1.RestorePhaseCompleted && r.Status.Warnings > 0 {
		fmt.Fprintf(out, "Run `ark restore describe %s` to see the warnings.\n", name)
	}
	return wait.Outcome("restore", name, st)
}
