package restore

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/restoreplan"
)

// describePlan prints a dry run's plan: its counts from the status, then,
// read from object storage, its notes and a row per namespace and resource,
// and with details every item.
func describePlan(cmd *cobra.Command, c client.Client, ns string, r *arkv1.Restore, details bool) {
	w := cmd.OutOrStdout()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	pl := r.Status.Plan
	p("")
	p("Dry run: nothing was created or changed.")
	if pl == nil {
		return
	}
	p("Plan:  %d would be created, %d exist as backed up, %d exist and differ, %d would fail, %d could not be checked",
		pl.WouldCreate, pl.Identical, pl.Differs, pl.WouldFail, pl.NotChecked)
	f, err := fetchPlan(cmd, c, ns, r.Name)
	if err != nil {
		p("  (could not read the plan: %v)", err)
		return
	}
	if len(f.Notes) > 0 {
		p("")
		p("Notes:")
		for _, n := range f.Notes {
			p("  - %s", n)
		}
	}
	p("")
	printGroups(w, f.Groups)
	if !details {
		if pl.Differs+pl.WouldFail+pl.NotChecked > 0 {
			p("")
			p("Run `ark restore describe %s --details` for every item and the reason of each.", r.Name)
		}
		return
	}
	p("")
	p("Items:")
	var rows [][]string
	for _, it := range f.Items {
		rows = append(rows, []string{string(it.Outcome), output.Or(it.Namespace, "<cluster>"), it.Resource, it.Name, output.Or(it.Reason, "-")})
	}
	if err := output.Table(w, []string{"OUTCOME", "NAMESPACE", "RESOURCE", "NAME", "REASON"}, rows); err != nil {
		p("  (%v)", err)
	}
}

func printGroups(w io.Writer, groups []restoreplan.Group) {
	var rows [][]string
	for _, g := range groups {
		rows = append(rows, []string{output.Or(g.Namespace, "<cluster>"), g.Resource,
			strconv.Itoa(g.WouldCreate), strconv.Itoa(g.Identical), strconv.Itoa(g.Differs), strconv.Itoa(g.WouldFail), strconv.Itoa(g.NotChecked)})
	}
	if err := output.Table(w, []string{"NAMESPACE", "RESOURCE", "CREATE", "IDENTICAL", "DIFFERS", "FAIL", "NOT CHECKED"}, rows); err != nil {
		fmt.Fprintf(w, "  (%v)\n", err)
	}
}

// fetchPlan downloads a dry run's plan through a DownloadRequest.
func fetchPlan(cmd *cobra.Command, c client.Client, ns, name string) (*restoreplan.File, error) {
	rc, err := download.Open(cmd.Context(), c, ns, arkv1.DownloadTargetKindRestorePlan, name, 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return restoreplan.Read(rc)
}
