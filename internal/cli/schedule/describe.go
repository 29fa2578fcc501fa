package schedule

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/backup"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/retention"
	"github.com/heptio/ark/internal/schedule"
)

// NewDescribeCommand is `ark schedule describe`.
func NewDescribeCommand(f *clientcfg.Factory) *cobra.Command {
	var selector string
	cmd := &cobra.Command{
		Use:     "describe [NAME...]",
		Short:   "Describe schedules: status, the next five runs, backup template, the last backup of each phase and the backups made",
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
				now := time.Now()
				v, err := backup.ReadRetention(cmd.Context(), c, s.Namespace, s.Name, now)
				var backups []arkv1.Backup
				if err == nil {
					// The label may be a shortened name: keep this schedule's own.
					backups = slices.DeleteFunc(slices.Clone(v.Input.Backups), func(b arkv1.Backup) bool { return arkv1.ScheduleName(&b) != s.Name })
				}
				describe(cmd.OutOrStdout(), s, backups, err, now)
				if err == nil {
					describeRetention(cmd.OutOrStdout(), s, v, now)
				}
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
	paused := "false"
	if s.Spec.Paused {
		paused = "true (no backups until `ark schedule unpause " + s.Name + "`)"
		if st.PausedSince != nil {
			paused = fmt.Sprintf("true since %s (no backups until `ark schedule unpause %s`)", output.Timestamp(st.PausedSince), s.Name)
		}
	}
	p("Paused:       %s", paused)
	p("Last backup:  %s", output.Timestamp(st.LastBackup))
	if st.LastSkipped != nil {
		p("Runs skipped until:  %s (while paused)", output.Timestamp(st.LastSkipped))
	}
	owner := "no (deleting the schedule keeps its backups)"
	if s.Spec.UseOwnerReferencesInBackup {
		owner = "yes (deleting the schedule deletes its backups, with their data)"
	}
	p("Owns its backups:    %s", owner)
	if sched, err := schedule.Parse(s.Spec.Schedule); err == nil && st.Phase == arkv1.SchedulePhaseEnabled {
		after := schedule.RunsAfter(s)
		switch next, overdue := schedule.NextRunTime(sched, after, now); {
		case s.Spec.Paused:
			p("Next runs:    none while paused")
		case next.IsZero():
			p("Next run:     never (the schedule matches no future time)")
		default:
			if overdue {
				p("Next run:     now (due at %s; is the Ark server running?)", next.UTC().Format(time.RFC3339))
			} else {
				p("Next run:     %s (in %s)", next.UTC().Format(time.RFC3339), output.HumanDuration(next.Sub(now)))
			}
			p("Next runs:")
			for _, t := range schedule.NextRuns(sched, after, now, 5) {
				p("  %s", t.Format(time.RFC3339))
			}
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
	p("  Label selector:  %s", templateSelector(t))
	p("  Snapshot PVs:    %s", optionalBool(t.SnapshotVolumes, "auto"))
	p("  TTL:             %s", ttlString(t.TTL.Duration))
	p("  All API versions:  %t", t.IncludeAllAPIVersions)
	if r := s.Spec.Retention; r != nil {
		p("  Retention:       %s", retention.Describe(r))
	} else {
		p("  Retention:       <the Config's default>")
	}
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
	// The names carry the run time, so the first of each phase is its newest.
	p("Last backup of each phase:")
	seen := map[string]bool{}
	for _, b := range backups {
		phase := output.Or(string(b.Status.Phase), "New")
		if seen[phase] {
			continue
		}
		seen[phase] = true
		p("  %-17s %s  (%s)", phase+":", b.Name, output.Timestamp(b.Status.StartTimestamp))
	}
	p("")
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

// maxPreview bounds the deletions listed.
const maxPreview = 10

// describeRetention shows the policy in force, the backup the guard keeps,
// and which backups go next and when.
func describeRetention(w io.Writer, s *arkv1.Schedule, v *backup.RetentionView, now time.Time) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	policy := v.Input.Policies[s.Name]
	source := "the schedule's own"
	if s.Spec.Retention == nil {
		source = "the Config's default"
	}
	p("")
	p("Retention:  %s (%s), plus each backup's TTL", retention.Describe(policy), source)
	for _, warning := range retention.ShortTTL(policy, cmp.Or(s.Spec.Template.TTL.Duration, v.DefaultTTL)) {
		p("  Warning: %s", warning)
	}
	if v.Note != "" {
		p("  (%s)", v.Note)
	}
	decisions := retention.Evaluate(v.Input)
	for _, b := range v.Input.Backups {
		if d := decisions[b.Name]; d.Guard != "" {
			p("  Kept whatever the settings say: %s, the %s", b.Name, d.Guard)
		}
	}
	var next time.Time
	// A paused schedule makes no run that could push a backup out.
	if sched, err := schedule.Parse(s.Spec.Schedule); err == nil && s.Status.Phase == arkv1.SchedulePhaseEnabled && !s.Spec.Paused {
		next, _ = schedule.NextRunTime(sched, schedule.RunsAfter(s), now)
	}
	ttl := cmp.Or(s.Spec.Template.TTL.Duration, v.DefaultTTL)
	upcoming := retention.Preview(v.Input, s.Name, next, ttl)
	if len(upcoming) == 0 {
		p("  Next deletions:  none planned")
		return
	}
	p("  Next deletions:")
	for i, u := range upcoming {
		if i == maxPreview {
			p("    ... and %d more", len(upcoming)-maxPreview)
			break
		}
		when := "at the next garbage collection"
		if !u.At.IsZero() {
			when = u.At.UTC().Format(time.RFC3339)
		}
		p("    %s  %s: %s", u.Backup, when, u.Reason)
	}
}
