package backup

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/cli/wait"
)

// NewDescribeCommand is `ark backup describe`.
func NewDescribeCommand(f *clientcfg.Factory) *cobra.Command {
	var selector string
	cmd := &cobra.Command{
		Use:     "describe [NAME...]",
		Short:   "Describe backups: spec, phase, progress, counts, problems and volume snapshots",
		Example: "  ark backup describe nginx-backup",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			list, err := List(cmd, c, ns, selector, args)
			if err != nil {
				return err
			}
			views := map[string]*RetentionView{}
			for i := range list.Items {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				b := &list.Items[i]
				schedule := arkv1.ScheduleName(b)
				v, seen := views[schedule]
				if !seen {
					if v, err = ReadRetention(cmd.Context(), c, ns, schedule, nowFunc()); err != nil {
						return fmt.Errorf("reading what the retention of backup %s depends on: %w", b.Name, err)
					}
					views[schedule] = v
				}
				Describe(cmd.OutOrStdout(), b, ns, describeRetention(b, v))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only backups whose labels match")
	return cmd
}

// Describe writes a backup for people; retention says why it is kept or
// when it goes.
func Describe(w io.Writer, b *arkv1.Backup, ns string, retention []string) {
	s, st := b.Spec, b.Status
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Name:         %s", b.Name)
	p("Namespace:    %s", b.Namespace)
	p("Labels:       %s", labelsString(b.Labels))
	p("")
	p("Phase:  %s", output.Or(string(st.Phase), "New"))
	if s.Cancel && (st.Phase == "" || st.Phase == arkv1.BackupPhaseNew || st.Phase == arkv1.BackupPhaseInProgress) {
		p("Cancel requested: the server stops it and deletes what it wrote")
	}
	if st.Phase == "" || st.Phase == arkv1.BackupPhaseNew {
		p("")
		p("%s", wait.ServerHint("backup", ns))
	}
	if st.FailureReason != "" {
		label := "Failure reason"
		if st.Phase == arkv1.BackupPhaseCancelled {
			label = "Cancelled"
		}
		p("%s: %s", label, st.FailureReason)
	}
	if len(st.ValidationErrors) > 0 {
		p("Validation errors:")
		for _, e := range st.ValidationErrors {
			p("  - %s", e)
		}
	}
	p("")
	p("Namespaces:")
	p("  Included:  %s", output.List(s.IncludedNamespaces, "*"))
	p("  Excluded:  %s", output.List(s.ExcludedNamespaces, "<none>"))
	p("")
	p("Resources:")
	p("  Included:        %s", output.List(s.IncludedResources, "*"))
	p("  Excluded:        %s", output.List(s.ExcludedResources, "<none>"))
	p("  Cluster-scoped:  %s", optionalBool(s.IncludeClusterResources, "auto"))
	p("")
	p("Label selector:  %s", selectorString(s))
	p("Snapshot PVs:    %s", optionalBool(s.SnapshotVolumes, "auto"))
	p("TTL:             %s", s.TTL.Duration)
	if len(s.Hooks.Resources) > 0 {
		var names []string
		for _, h := range s.Hooks.Resources {
			names = append(names, h.Name)
		}
		p("Hooks:           %s", strings.Join(names, ", "))
	}
	p("")
	p("Backup format version:  %d", st.Version)
	p("Started:     %s", output.Timestamp(st.StartTimestamp))
	p("Completed:   %s", output.Timestamp(st.CompletionTimestamp))
	p("Expiration:  %s", output.Timestamp(st.Expiration))
	for i, line := range retention {
		if i == 0 {
			p("Retention:   %s", line)
		} else {
			p("             %s", line)
		}
	}
	if pr := st.Progress; pr != nil {
		p("")
		p("Progress:  %d of %d items backed up", pr.ItemsBackedUp, pr.TotalItems)
		if pr.CurrentResource != "" && st.Phase == arkv1.BackupPhaseInProgress {
			p("  Current resource: %s", pr.CurrentResource)
		}
	}
	if a := st.Archive; a != nil {
		p("Archive:   %d items, %d bytes, sha256 %s", a.Items, a.Size, a.SHA256)
		if a.PlaintextSHA256 != "" {
			p("           before encryption: %d bytes, sha256 %s", a.PlaintextSize, a.PlaintextSHA256)
		}
	}
	if e := st.Encryption; e != nil {
		p("Encryption: %s, to recipient %s (key in Secret %s)", e.Format, e.Recipient, output.Or(e.SecretName, "<unknown>"))
	}
	describeVerification(p, b)
	if len(st.ResourceCounts) > 0 {
		p("")
		p("Items per resource:")
		var names []string
		for n := range st.ResourceCounts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p("  %-40s %d", n, st.ResourceCounts[n])
		}
	}
	p("")
	p("Warnings:  %d", st.Warnings)
	p("Errors:    %d", st.Errors)
	for _, pr := range st.Problems {
		where := strings.Trim(strings.Join([]string{pr.Resource, strings.Trim(pr.Namespace+"/"+pr.Name, "/")}, " "), " ")
		p("  %s: %s: %s", pr.Severity, where, pr.Message)
	}
	if n := st.Warnings + st.Errors; n > len(st.Problems) {
		p("  (%d more in `ark backup logs %s`)", n-len(st.Problems), b.Name)
	}
	if h := st.HookStatus; h != nil {
		p("Hooks run: %d, failed: %d (their output is in `ark backup logs %s`)", h.HooksAttempted, h.HooksFailed, b.Name)
	}
	p("")
	if len(st.VolumeBackups) == 0 {
		// Say why, so an empty list is not mistaken for "no PVs backed up":
		// the PV objects may well be in the archive.
		switch {
		case s.SnapshotVolumes != nil && !*s.SnapshotVolumes:
			p("Volume snapshots:  <none> (snapshots were turned off with --snapshot-volumes=false)")
		case st.Phase == arkv1.BackupPhaseCompleted || st.Phase == arkv1.BackupPhasePartiallyFailed:
			p("Volume snapshots:  <none> (no PV in the backup was snapshotted by a persistentVolumeProvider)")
		default:
			p("Volume snapshots:  <none>")
		}
		return
	}
	p("Volume snapshots:")
	var pvs []string
	for n := range st.VolumeBackups {
		pvs = append(pvs, n)
	}
	sort.Strings(pvs)
	for _, n := range pvs {
		v := st.VolumeBackups[n]
		iops := "<n/a>"
		if v.Iops != nil {
			iops = fmt.Sprint(*v.Iops)
		}
		p("  %s:", n)
		p("    Snapshot ID:        %s", v.SnapshotID)
		p("    Type:               %s", output.Or(v.Type, "<n/a>"))
		p("    Availability zone:  %s", output.Or(v.AvailabilityZone, "<n/a>"))
		p("    IOPS:               %s", iops)
	}
}

func optionalBool(b *bool, unset string) string {
	if b == nil {
		return unset
	}
	return fmt.Sprint(*b)
}

func labelsString(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// describeVerification says what the server's last verification of the
// archive found, and when.
func describeVerification(p func(string, ...any), b *arkv1.Backup) {
	c := meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionVerified)
	if c == nil {
		switch b.Status.Phase {
		case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
			p("Verified:  not yet (the server reads every new archive back; or run 'ark backup verify %s')", b.Name)
		}
		return
	}
	state := map[metav1.ConditionStatus]string{metav1.ConditionTrue: "yes", metav1.ConditionFalse: "NO"}[c.Status]
	p("Verified:  %s (%s), last verified %s; since %s", output.Or(state, string(c.Status)), c.Reason,
		output.Timestamp(b.Status.LastVerified), output.Timestamp(&c.LastTransitionTime))
	p("  %s", c.Message)
}
