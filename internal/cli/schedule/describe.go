package schedule

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/schedule"
)

// NewDescribeCommand is `ark schedule describe`.
func NewDescribeCommand(f *clientcfg.Factory) *cobra.Command {
	var selector string
	cmd := &cobra.Command{
		Use:     "describe [NAME...]",
		Short:   "Describe schedules: status, next run, backup template and the backups made",
		Example: "  ark schedule describe full",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			for i := range l.Items {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				s := &l.Items[i]
				var backups arkv1.BackupList
				err := c.List(cmd.Context(), &backups, client.InNamespace(s.Namespace), client.MatchingLabels(arkv1.ScheduleSelector(s.Name)))
				// The label may be a shortened name: keep this schedule's own.
				mine := slices.DeleteFunc(backups.Items, func(b arkv1.Backup) bool { return arkv1.ScheduleName(&b) != s.Name })
				describe(cmd.OutOrStdout(), s, mine, err, time.Now())
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only schedules whose labels match")
	return cmd
}

func describe(w io.Writer, s *arkv1.Schedule, backups []arkv1.Backup, listErr error, now time.Time) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	st, t := s.Status, s.Spec.Template
	p("Name:         %s", s.Name)
	p("Namespace:    %s", s.Namespace)
	p("")
	p("Phase:  %s", output.Or(string(st.Phase), "New"))
	if len(st.ValidationErrors) > 0 {
		p("Validation errors:")
		for _, e := range st.ValidationErrors {
			p("  - %s", e)
		}
	}
	p("")
	p("Schedule:     %s", s.Spec.Schedule)
	p("Last backup:  %s", output.Timestamp(st.LastBackup))
	if sched, err := schedule.Parse(s.Spec.Schedule); err == nil && st.Phase == arkv1.SchedulePhaseEnabled {
		after := s.CreationTimestamp.Time
		if st.LastBackup != nil {
			after = st.LastBackup.Time
		}
		switch next, overdue := schedule.NextRunTime(sched, after, now); {
		case next.IsZero():
			p("Next run:     never (the schedule matches no future time)")
		case overdue:
			p("Next run:     now (due at %s; is the Ark server running?)", next.UTC().Format(time.RFC3339))
		default:
			p("Next run:     %s (in %s)", next.UTC().Format(time.RFC3339), output.HumanDuration(next.Sub(now)))
		}
	}
	p("")
	p("Backup template:")
	p("  Namespaces:")
	p("    Included:  %s", output.List(t.IncludedNamespaces, "*"))
	p("    Excluded:  %s", output.List(t.ExcludedNamespaces, "<none>"))
	p("  Resources:")
	p("    Included:        %s", output.List(t.IncludedResources, "*"))
	p("    Excluded:        %s", output.List(t.ExcludedResources, "<none>"))
	p("    Cluster-scoped:  %s", optionalBool(t.IncludeClusterResources, "auto"))
	p("  Label selector:  %s", selectorString(t.LabelSelector))
	p("  Snapshot PVs:    %s", optionalBool(t.SnapshotVolumes, "auto"))
	p("  TTL:             %s", t.TTL.Duration)
	p("")
	if listErr != nil {
		p("Backups:  (could not list them: %v)", listErr)
		return
	}
	if len(backups) == 0 {
		p("Backups:  <none yet>")
		return
	}
	sort.Slice(backups, func(i, j int) bool { return backups[i].Name > backups[j].Name })
	p("Backups (%d, newest first):", len(backups))
	var rows []string
	for _, b := range backups {
		rows = append(rows, fmt.Sprintf("  %s  %s", b.Name, output.Or(string(b.Status.Phase), "New")))
	}
	p("%s", strings.Join(rows, "\n"))
}

func optionalBool(b *bool, unset string) string {
	if b == nil {
		return unset
	}
	return fmt.Sprint(*b)
}
