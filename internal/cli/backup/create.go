// Package backup is `ark backup`: create, get, describe, logs, download and
// delete backups.
package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/cli/wait"
)

// SpecFlags are the flags that make a BackupSpec; schedules share them.
type SpecFlags struct {
	IncludeNamespaces       []string
	ExcludeNamespaces       []string
	IncludeResources        []string
	ExcludeResources        []string
	Selector                string
	SnapshotVolumes         flags.OptionalBool
	IncludeClusterResources flags.OptionalBool
	TTL                     time.Duration
}

// Bind adds the spec flags to cmd.
func (s *SpecFlags) Bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&s.IncludeNamespaces, "include-namespaces", []string{"*"}, "namespaces to include (comma-separated; * for all)")
	f.StringSliceVar(&s.ExcludeNamespaces, "exclude-namespaces", nil, "namespaces to leave out")
	f.StringSliceVar(&s.IncludeResources, "include-resources", nil, "resources to include: resource, resource.group or short name (default: all)")
	f.StringSliceVar(&s.ExcludeResources, "exclude-resources", nil, "resources to leave out")
	f.StringVarP(&s.Selector, "selector", "l", "", "only back up objects whose labels match this selector (e.g. app=nginx)")
	f.Var(&s.SnapshotVolumes, "snapshot-volumes", "snapshot persistent volumes (default: yes when a persistentVolumeProvider is configured)")
	f.Var(&s.IncludeClusterResources, "include-cluster-resources", "include cluster-scoped resources (default: only when all namespaces are backed up)")
	s.TTL = 720 * time.Hour
	f.Var(flags.Duration{D: &s.TTL}, "ttl", "how long to keep the backup before it is garbage-collected")
	f.Lookup("snapshot-volumes").NoOptDefVal = "true"
	f.Lookup("include-cluster-resources").NoOptDefVal = "true"
}

// Spec builds the BackupSpec, or says which flag is wrong.
func (s *SpecFlags) Spec() (arkv1.BackupSpec, error) {
	sel, err := flags.Selector(s.Selector)
	if err != nil {
		return arkv1.BackupSpec{}, err
	}
	if s.TTL < 0 {
		return arkv1.BackupSpec{}, fmt.Errorf("--ttl %s is negative: give a positive duration such as 720h", s.TTL)
	}
	return arkv1.BackupSpec{
		IncludedNamespaces:      s.IncludeNamespaces,
		ExcludedNamespaces:      s.ExcludeNamespaces,
		IncludedResources:       s.IncludeResources,
		ExcludedResources:       s.ExcludeResources,
		LabelSelector:           sel,
		SnapshotVolumes:         s.SnapshotVolumes.Value,
		IncludeClusterResources: s.IncludeClusterResources.Value,
		TTL:                     metav1.Duration{Duration: s.TTL},
	}, nil
}

type createOptions struct {
	spec         SpecFlags
	labels       []string
	output       string
	wait         bool
	fromSchedule string
}

// NewCreateCommand is `ark backup create`.
func NewCreateCommand(f *clientcfg.Factory) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a backup",
		Example: `  # back up everything labelled app=nginx, and follow it to the end
  ark backup create nginx-backup --selector app=nginx --wait

  # back up two namespaces, without secrets, kept for a week
  ark backup create team-a --include-namespaces team-a,team-a-db --exclude-resources secrets --ttl 168h

  # a backup now, with the spec of a schedule
  ark backup create adhoc --from-schedule daily

  # print the Backup without creating it
  ark backup create test --include-namespaces default -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args[0]) },
	}
	o.spec.Bind(cmd)
	cmd.Flags().StringSliceVar(&o.labels, "labels", nil, "labels to put on the Backup (k1=v1,k2=v2)")
	cmd.Flags().BoolVarP(&o.wait, "wait", "w", false, "wait for the backup to finish, showing its progress")
	cmd.Flags().StringVar(&o.fromSchedule, "from-schedule", "", "use the backup template of this schedule (other spec flags are ignored)")
	output.BindFlag(cmd, &o.output, "", "json", "yaml")
	return cmd
}

func (o *createOptions) run(cmd *cobra.Command, f *clientcfg.Factory, name string) error {
	if o.output != "" {
		if err := output.Validate(o.output, "json", "yaml"); err != nil {
			return err
		}
	}
	labels, err := flags.Labels(o.labels)
	if err != nil {
		return err
	}
	spec, err := o.spec.Spec()
	if err != nil {
		return err
	}
	ns := f.ResolvedNamespace()
	b := &arkv1.Backup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       spec,
	}
	if o.output != "" && o.fromSchedule == "" {
		return output.Object(cmd.OutOrStdout(), o.output, b)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if o.fromSchedule != "" {
		var s arkv1.Schedule
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: o.fromSchedule}, &s); err != nil {
			return fmt.Errorf("reading schedule %q: %w", o.fromSchedule, err)
		}
		b.Spec = s.Spec.Template
		arkv1.SetScheduleName(b, s.Name)
		if o.output != "" {
			return output.Object(cmd.OutOrStdout(), o.output, b)
		}
	}
	if err := c.Create(ctx, b); err != nil {
		return fmt.Errorf("creating backup %q: %w", name, err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Backup request %q submitted successfully.\n", name)
	if !o.wait {
		fmt.Fprintf(out, "Run `ark backup describe %s` for more details.\n", name)
		return nil
	}
	return Wait(ctx, cmd, c, ns, name)
}

// Wait follows a backup to its end and fails unless it Completed.
func Wait(ctx context.Context, cmd *cobra.Command, c client.Client, ns, name string) error {
	out := cmd.OutOrStdout()
	var b arkv1.Backup
	st, err := wait.Follow(ctx, out, "backup", ns, func(ctx context.Context) (wait.State, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
			return wait.State{}, err
		}
		st := wait.State{Phase: string(b.Status.Phase), ValidationErrors: b.Status.ValidationErrors, FailureReason: b.Status.FailureReason}
		if p := b.Status.Progress; p != nil {
			st.Progress = wait.Progress(p.ItemsBackedUp, p.TotalItems, "backed up", p.CurrentResource)
		}
		return st, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Backup %s: %s", name, b.Status.Phase)
	if b.Status.Archive != nil {
		fmt.Fprintf(out, " (%d items, %d bytes, %d warnings, %d errors)", b.Status.Archive.Items, b.Status.Archive.Size, b.Status.Warnings, b.Status.Errors)
	}
	fmt.Fprintln(out)
	return wait.Outcome("backup", name, st)
}
