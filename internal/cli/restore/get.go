package restore

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/cli/lookup"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/cli/wait"
)

// NewCommand is `ark restore`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	c := &cobra.Command{Use: "restore", Aliases: []string{"restores"}, Short: "Work with restores"}
	c.AddCommand(NewCreateCommand(f), NewGetCommand(f), NewDescribeCommand(f), NewLogsCommand(f), NewDeleteCommand(f), NewCancelCommand(f))
	return c
}

// list returns the named restores (all of them, or those matching selector,
// when names is empty), sorted by name.
func list(cmd *cobra.Command, f *clientcfg.Factory, selector string, names []string) (client.Client, *arkv1.RestoreList, error) {
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	out := &arkv1.RestoreList{}
	if err := lookup.Fetch(cmd.Context(), c, out, &out.Items, "restore", f.ResolvedNamespace(), selector, names); err != nil {
		return nil, nil, err
	}
	return c, out, nil
}

// NewGetCommand is `ark restore get`.
func NewGetCommand(f *clientcfg.Factory) *cobra.Command {
	var selector, format string
	cmd := &cobra.Command{
		Use:     "get [NAME...]",
		Short:   "List restores",
		Example: "  ark restore get\n  ark restore get -l ark.heptio.com/backup-name=nginx-backup -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.Validate(format, "table", "json", "yaml"); err != nil {
				return err
			}
			_, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			if format != "table" {
				if len(args) == 1 && len(l.Items) == 1 {
					return output.Object(cmd.OutOrStdout(), format, &l.Items[0])
				}
				return output.Object(cmd.OutOrStdout(), format, l)
			}
			var rows [][]string
			for _, r := range l.Items {
				items := "-"
				if r.Status.Progress != nil {
					items = strconv.Itoa(r.Status.Progress.ItemsRestored)
				}
				rows = append(rows, []string{r.Name, r.Spec.BackupName, output.Or(string(r.Status.Phase), "New"), items,
					strconv.Itoa(r.Status.Warnings), strconv.Itoa(r.Status.Errors), output.Age(r.CreationTimestamp)})
			}
			return output.Table(cmd.OutOrStdout(), []string{"NAME", "BACKUP", "STATUS", "ITEMS", "WARNINGS", "ERRORS", "AGE"}, rows)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only restores whose labels match")
	output.BindFlag(cmd, &format, "table", "table", "json", "yaml")
	return cmd
}

// NewDescribeCommand is `ark restore describe`: the spec, the phase, and the
// warnings and errors per namespace, read from the results in object storage.
func NewDescribeCommand(f *clientcfg.Factory) *cobra.Command {
	var selector string
	var details bool
	cmd := &cobra.Command{
		Use:     "describe [NAME...]",
		Short:   "Describe restores, with their warnings and errors per namespace, and a dry run's plan",
		Example: "  ark restore describe nginx-backup-20260101120000\n  ark restore describe nginx-preview --details",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			for i := range l.Items {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				describe(cmd, c, ns, &l.Items[i], details)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only restores whose labels match")
	cmd.Flags().BoolVar(&details, "details", false, "for a dry run, list every item of its plan with what a restore would do and why")
	return cmd
}

func describe(cmd *cobra.Command, c client.Client, ns string, r *arkv1.Restore, details bool) {
	w := cmd.OutOrStdout()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	s, st := r.Spec, r.Status
	p("Name:         %s", r.Name)
	p("Namespace:    %s", r.Namespace)
	p("Backup:       %s", s.BackupName)
	p("")
	p("Phase:  %s", output.Or(string(st.Phase), "New"))
	if st.Phase == "" || st.Phase == arkv1.RestorePhaseNew {
		p("")
		p("%s", wait.ServerHint("restore", ns))
	}
	if s.Cancel && (st.Phase == "" || st.Phase == arkv1.RestorePhaseNew || st.Phase == arkv1.RestorePhaseInProgress) {
		p("Cancel requested: the server stops it; what it created stays")
	}
	if st.FailureReason != "" {
		label := "Failure reason"
		if st.Phase == arkv1.RestorePhaseCancelled {
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
	if len(s.NamespaceMapping) > 0 {
		var m []string
		for k, v := range s.NamespaceMapping {
			m = append(m, k+" -> "+v)
		}
		sort.Strings(m)
		p("  Mapping:   %s", strings.Join(m, ", "))
	}
	p("")
	p("Resources:")
	p("  Included:  %s", output.List(s.IncludedResources, "*"))
	p("  Excluded:  %s", output.List(s.ExcludedResources, "<none>"))
	p("")
	p("Started:    %s", output.Timestamp(st.StartTimestamp))
	p("Completed:  %s", output.Timestamp(st.CompletionTimestamp))
	if pr := st.Progress; pr != nil {
		p("Progress:   %d of %d items restored", pr.ItemsRestored, pr.TotalItems)
		if st.Phase == arkv1.RestorePhaseCancelled {
			p("            %d not restored (cancelled)", pr.ItemsNotRestored)
		}
	}
	if s.DryRun && st.Phase == arkv1.RestorePhasePreviewed {
		describePlan(cmd, c, ns, r, details)
	}
	p("")
	if len(s.Hooks.Resources) > 0 {
		var names []string
		for _, h := range s.Hooks.Resources {
			names = append(names, h.Name)
		}
		p("Hooks:      %s", strings.Join(names, ", "))
	}
	if h := st.HookStatus; h != nil {
		p("Hooks run:  %d, failed: %d (their output is in `ark restore logs %s`)", h.HooksAttempted, h.HooksFailed, r.Name)
	}
	p("")
	p("Warnings:  %d", st.Warnings)
	p("Errors:    %d", st.Errors)
	if st.Warnings+st.Errors == 0 || (st.Phase != arkv1.RestorePhaseCompleted && st.Phase != arkv1.RestorePhasePartiallyFailed && st.Phase != arkv1.RestorePhaseCancelled) {
		return
	}
	results, err := fetchResults(cmd, c, ns, r.Name)
	if err != nil {
		p("  (could not read the results: %v)", err)
		return
	}
	for _, kind := range []string{"warnings", "errors"} {
		res := results[kind]
		if len(res.Ark)+len(res.Cluster)+len(res.Namespaces) == 0 {
			continue
		}
		p("")
		p("%s:", strings.ToUpper(kind[:1])+kind[1:])
		section := func(title string, msgs []string) {
			if len(msgs) == 0 {
				return
			}
			p("  %s:", title)
			for _, m := range msgs {
				p("    %s", m)
			}
		}
		section("Ark", res.Ark)
		section("Cluster", res.Cluster)
		var nss []string
		for n := range res.Namespaces {
			nss = append(nss, n)
		}
		sort.Strings(nss)
		for _, n := range nss {
			section("Namespace "+n, res.Namespaces[n])
		}
	}
}

func fetchResults(cmd *cobra.Command, c client.Client, ns, name string) (map[string]arkv1.RestoreResult, error) {
	rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindRestoreResults, name, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(download.Gunzip(pw, rc)) }()
	results := map[string]arkv1.RestoreResult{}
	if err := json.NewDecoder(pr).Decode(&results); err != nil {
		return nil, fmt.Errorf("the results file is not valid: %w", err)
	}
	return results, nil
}

// NewLogsCommand is `ark restore logs`.
func NewLogsCommand(f *clientcfg.Factory) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "logs NAME",
		Short:   "Print a restore's log (from object storage)",
		Example: "  ark restore logs nginx-backup-20260101120000",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			ns := f.ResolvedNamespace()
			// A restore that never ran has no log; say why instead of
			// reporting a missing file.
			var r arkv1.Restore
			if err := c.Get(cmd.Context(), client.ObjectKey{Namespace: ns, Name: args[0]}, &r); err != nil {
				return fmt.Errorf("restore %q: %w", args[0], err)
			}
			switch r.Status.Phase {
			case "", arkv1.RestorePhaseNew:
				return fmt.Errorf("restore %q has no log yet. %s", args[0], wait.ServerHint("restore", ns))
			case arkv1.RestorePhaseFailedValidation:
				return fmt.Errorf("restore %q failed validation and never ran, so it has no log:\n  %s", args[0], strings.Join(r.Status.ValidationErrors, "\n  "))
			}
			rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindRestoreLog, args[0], timeout)
			if err != nil {
				return fmt.Errorf("restore %q log: %w", args[0], err)
			}
			defer rc.Close()
			return download.Gunzip(cmd.OutOrStdout(), rc)
		},
	}
	timeout = time.Minute
	cmd.Flags().Var(flags.Duration{D: &timeout}, "timeout", "how long to wait for the server to answer")
	return cmd
}

// NewDeleteCommand is `ark restore delete`: it deletes Restore objects only;
// the restored objects stay, and the restore's log and results stay with the
// backup until the backup is deleted.
func NewDeleteCommand(f *clientcfg.Factory) *cobra.Command {
	var all bool
	var selector string
	cmd := &cobra.Command{
		Use:     "delete [NAME...]",
		Short:   "Delete Restore objects (the restored objects stay)",
		Example: "  ark restore delete nginx-backup-20260101120000\n  ark restore delete --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all && selector == "" {
				return fmt.Errorf("name the restores to delete, or pass --all or --selector")
			}
			c, l, err := list(cmd, f, selector, args)
			if err != nil {
				return err
			}
			for i := range l.Items {
				if err := client.IgnoreNotFound(c.Delete(cmd.Context(), &l.Items[i])); err != nil {
					return fmt.Errorf("deleting restore %q: %w", l.Items[i].Name, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Restore %q deleted.\n", l.Items[i].Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "delete every restore")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete the restores whose labels match")
	return cmd
}
