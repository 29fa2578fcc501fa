// Package restore is `ark restore`: create, get, describe, logs and delete
// restores.
package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	fromSchedule            string
	existingResourcePolicy  string
	resourceModifier        string
	restoreStatus           []string
	preserveNodePorts       flags.OptionalBool
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
		Use:   "create [NAME] --from-backup BACKUP | create [NAME] --from-schedule SCHEDULE | create BACKUP",
		Short: "Restore a backup",
		Long: `Restore a backup into the cluster. Objects that already exist are left as
they are and reported as warnings, or, with --existing-resource-policy update,
patched to the backed-up state; an existing object is never deleted.

With one argument and no --from-backup or --from-schedule, the argument is the
backup and the restore is named <backup>-<YYYYMMDDHHMMSS>. --from-schedule
restores the schedule's newest Completed backup (the server picks it).`,
		Example: `  ark restore create nginx-backup
  ark restore create --from-backup nginx-backup --wait
  ark restore create copy --from-backup nginx-backup --namespace-mappings nginx-example:nginx-copy
  ark restore create --from-backup full --include-namespaces team-a --exclude-resources secrets
  ark restore create --from-schedule daily --existing-resource-policy update
  ark restore create --from-backup full --resource-modifier-configmap move-to-premium --restore-status widgets.example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.fromBackup, "from-backup", "", "the backup to restore")
	fl.StringVar(&o.fromSchedule, "from-schedule", "", "restore the newest Completed backup of this schedule")
	fl.StringVar(&o.existingResourcePolicy, "existing-resource-policy", "", "what to do with objects that already exist: none (leave them, with a warning; the default) or update (patch them to the backed-up state)")
	fl.StringVar(&o.resourceModifier, "resource-modifier-configmap", "", "a ConfigMap, in Ark's namespace, of rules that patch matching items before they are created (see docs/restores.md)")
	fl.StringSliceVar(&o.restoreStatus, "restore-status", nil, "resources whose .status is restored too, through the status subresource (* for all)")
	fl.Var(&o.preserveNodePorts, "preserve-nodeports", "keep the node ports of Services as backed up instead of letting the cluster allocate new ones")
	fl.Lookup("preserve-nodeports").NoOptDefVal = "true"
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
	case backupName != "" && o.fromSchedule != "":
		return fmt.Errorf("give either --from-backup or --from-schedule, not both")
	case backupName == "" && o.fromSchedule == "" && len(args) == 1:
		backupName = args[0]
	case backupName == "" && o.fromSchedule == "":
		return fmt.Errorf("name the backup to restore: ark restore create BACKUP, --from-backup BACKUP, or --from-schedule SCHEDULE")
	case len(args) == 1:
		name = args[0]
	}
	if name == "" {
		source := backupName
		if source == "" {
			source = o.fromSchedule
		}
		name = arkv1.RestoreName(source, time.Now())
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
			ScheduleName:            o.fromSchedule,
			ExistingResourcePolicy:  arkv1.ExistingResourcePolicy(o.existingResourcePolicy),
			PreserveNodePorts:       o.preserveNodePorts.Value,
			DryRun:                  o.dryRun,
		},
	}
	if o.resourceModifier != "" {
		r.Spec.ResourceModifier = &arkv1.ResourceModifierReference{Kind: "ConfigMap", Name: o.resourceModifier}
	}
	if len(o.restoreStatus) > 0 {
		r.Spec.RestoreStatus = &arkv1.RestoreStatusSpec{IncludedResources: o.restoreStatus}
	}
	if backupName != "" {
		// With --from-schedule the server sets it once it picked the backup.
		arkv1.SetBackupNameLabel(r, backupName)
	}
	if o.output != "" {
		return output.Object(cmd.OutOrStdout(), o.output, r)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	if o.resourceModifier != "" {
		if err := checkModifiers(cmd.Context(), c, ns, o.resourceModifier); err != nil {
			return err
		}
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

// checkModifiers reads and parses the resource modifier rules the restore
// names, so a missing ConfigMap or a bad rule is reported before anything
// is created.
func checkModifiers(ctx context.Context, c client.Client, ns, name string) error {
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("resource modifier ConfigMap %q not found in namespace %s: create it there first ('kubectl -n %s create configmap %s --from-file=rules.yaml')", name, ns, ns, name)
		}
		return fmt.Errorf("reading resource modifier ConfigMap %q: %w", name, err)
	}
	if _, problems := restore.ParseModifiers(name, cm.Data); len(problems) > 0 {
		return fmt.Errorf("the resource modifier rules are not valid:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
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
		updated := ""
		if r.Spec.ExistingResourcePolicy == arkv1.ExistingResourcePolicyUpdate {
			updated = fmt.Sprintf(", %d existing updated, %d already identical", r.Status.ItemsUpdated, r.Status.ItemsUnchanged)
		}
		fmt.Fprintf(out, " (%d items restored%s, %d warnings, %d errors)", pr.ItemsRestored, updated, r.Status.Warnings, r.Status.Errors)
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
