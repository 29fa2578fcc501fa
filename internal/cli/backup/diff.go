package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	backupscope "github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/backupdiff"
	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/download"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/cli/output"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/restore"
)

type diffOptions struct {
	files                   []string
	metadata                string
	includeNew, details     bool
	format                  string
	timeout                 time.Duration
	includeNamespaces       []string
	excludeNamespaces       []string
	includeResources        []string
	excludeResources        []string
	namespaceMappings       []string
	selector                string
	includeClusterResources flags.OptionalBool
}

// NewDiffCommand is `ark backup diff`.
func NewDiffCommand(f *clientcfg.Factory) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff NAME [OTHER] | diff --file PATH [--file PATH]",
		Short: "Compare a backup with the live cluster, or with another backup",
		Long: `Compare what a restore of a backup would restore with what the cluster holds
now: each object is unchanged, changed (with the fields that differ), or gone
from the cluster; with --include-new, the objects in the backup's scope that
the backup does not have are listed as new. With two backups (or two
--file archives), they are compared with each other and no cluster is read:
gone means in the first only, new in the second only.

Only what a restore would restore is compared: the restore filters below
apply, as do the resources a restore never creates (events, nodes, Ark's own)
and the objects a controller owns (their owner recreates them). What the
cluster manages is ignored (resourceVersion, uid, managedFields, status,
creation and deletion timestamps, generation, owner references, cluster IPs
and node ports, node names, service account token volumes, volume binding
annotations, the Deployment revision annotation, kubectl's last-applied
annotation, and the ark-restore label); see docs/verification.md.

The comparison runs here, in the CLI, with your kubeconfig: the archive comes
through a DownloadRequest (or --file), the live objects through paginated
LISTs read alongside the archive, so memory does not grow with the cluster.`,
		Example: `  ark backup diff nginx-backup
  ark backup diff nginx-backup --include-new --details
  ark backup diff nginx-backup --include-namespaces nginx-example -o json
  ark backup diff monday tuesday
  ark backup diff --file monday.tar.gz --file tuesday.tar.gz`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.files, "file", nil, "a local archive (.tar.gz) in place of a backup NAME; give it twice to compare two archives")
	fl.StringVar(&o.metadata, "metadata", "", "with --file and --include-new: the backup's ark-backup.json, whose spec says what the backup covers")
	fl.BoolVar(&o.includeNew, "include-new", false, "also list live objects in the backup's scope that the backup does not have (reads every resource the backup covers)")
	fl.BoolVar(&o.details, "details", false, "show the values of the changed fields, not only their paths")
	fl.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the server to answer a download request")
	fl.StringSliceVar(&o.includeNamespaces, "include-namespaces", []string{"*"}, "as for a restore: namespaces of the backup to compare (* for all)")
	fl.StringSliceVar(&o.excludeNamespaces, "exclude-namespaces", nil, "as for a restore: namespaces of the backup to leave out")
	fl.StringSliceVar(&o.includeResources, "include-resources", nil, "as for a restore: resources to compare (default: all)")
	fl.StringSliceVar(&o.excludeResources, "exclude-resources", nil, "as for a restore: resources to leave out")
	fl.StringSliceVar(&o.namespaceMappings, "namespace-mappings", nil, "as for a restore: compare namespace src with live namespace dst (src1:dst1,...)")
	fl.StringVarP(&o.selector, "selector", "l", "", "as for a restore: only objects whose labels match")
	fl.Var(&o.includeClusterResources, "include-cluster-resources", "as for a restore: compare cluster-scoped resources (default: only when all namespaces are compared)")
	fl.Lookup("include-cluster-resources").NoOptDefVal = "true"
	output.BindFlag(cmd, &o.format, "table", "table", "json")
	return cmd
}

// side is one of the two things compared: a backup in object storage, or a
// local archive.
type side struct {
	name   string // for the report
	backup *arkv1.Backup
	open   backupdiff.Opener
}

func (o *diffOptions) run(cmd *cobra.Command, f *clientcfg.Factory, args []string) error {
	if err := output.Validate(o.format, "table", "json"); err != nil {
		return err
	}
	n := len(args) + len(o.files)
	switch {
	case n == 0:
		return fmt.Errorf("name the backup to compare with the cluster (ark backup diff NAME), or two to compare with each other")
	case n > 2:
		return fmt.Errorf("compare one backup with the cluster or two with each other: %d given", n)
	case len(args) > 0 && len(o.files) > 0:
		return fmt.Errorf("give backups either by NAME or by --file, not both")
	case n == 2 && o.includeNew:
		return fmt.Errorf("--include-new is for a comparison with the cluster: between two backups every object of either is listed anyway")
	case n == 2 && len(o.namespaceMappings) > 0:
		return fmt.Errorf("--namespace-mappings is for a comparison with the cluster, not between two backups")
	case o.metadata != "" && len(o.files) == 0:
		return fmt.Errorf("--metadata goes with --file; a backup NAME brings its own spec")
	}
	spec, err := o.restoreSpec()
	if err != nil {
		return err
	}
	var c client.Client
	if len(args) > 0 || n == 1 {
		// A backup by name, or the cluster: both need it.
		if c, err = f.Client(); err != nil {
			return err
		}
	}
	ns := f.ResolvedNamespace()
	var sides []side
	for _, name := range args {
		s, err := o.backupSide(cmd.Context(), c, ns, name)
		if err != nil {
			return err
		}
		sides = append(sides, s)
	}
	for _, path := range o.files {
		sides = append(sides, fileSide(path))
	}
	if o.metadata != "" {
		if sides[0].backup, err = readMetadata(o.metadata); err != nil {
			return err
		}
	}

	var rep *backupdiff.Report
	if n == 2 {
		rep, err = o.twoBackups(cmd, f, spec, sides)
	} else {
		rep, err = o.againstCluster(cmd, f, spec, sides[0])
	}
	if err != nil {
		return err
	}
	if o.format == "json" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), string(data))
		return err
	}
	printDiff(cmd.OutOrStdout(), rep, o.details)
	return nil
}

func (o *diffOptions) restoreSpec() (arkv1.RestoreSpec, error) {
	mapping, err := flags.Map("--namespace-mappings", o.namespaceMappings, ":")
	if err != nil {
		return arkv1.RestoreSpec{}, err
	}
	sel, err := flags.Selector(o.selector)
	if err != nil {
		return arkv1.RestoreSpec{}, err
	}
	spec := arkv1.RestoreSpec{
		BackupName:         "diff",
		IncludedNamespaces: o.includeNamespaces, ExcludedNamespaces: o.excludeNamespaces,
		IncludedResources: o.includeResources, ExcludedResources: o.excludeResources,
		NamespaceMapping: mapping, LabelSelector: sel, IncludeClusterResources: o.includeClusterResources.Value,
	}
	if problems := restore.Validate(spec, nil, "", nil); len(problems) > 0 {
		return spec, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return spec, nil
}

func (o *diffOptions) backupSide(ctx context.Context, c client.Client, ns, name string) (side, error) {
	var b arkv1.Backup
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
		return side{}, fmt.Errorf("backup %q: %w", name, err)
	}
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
	default:
		return side{}, fmt.Errorf("backup %q is %s: only a finished backup has an archive to compare", name, output.Or(string(b.Status.Phase), "New"))
	}
	open := func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := download.Open(ctx, c, ns, arkv1.DownloadTargetKindBackupContents, name, o.timeout)
		if err != nil {
			return nil, fmt.Errorf("backup %q: %w", name, err)
		}
		return rc, nil
	}
	return side{name: "backup " + name, backup: &b, open: open}, nil
}

func fileSide(path string) side {
	return side{name: path, open: func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening the archive: %w", err)
		}
		return f, nil
	}}
}

// resourcesOf are the resources a backup recorded, against which names the
// cluster does not serve are matched.
func resourcesOf(sides []side) []string {
	set := map[string]bool{}
	for _, s := range sides {
		if s.backup != nil {
			for r := range s.backup.Status.ResourceCounts {
				set[r] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (o *diffOptions) twoBackups(cmd *cobra.Command, f *clientcfg.Factory, spec arkv1.RestoreSpec, sides []side) (*backupdiff.Report, error) {
	// Resource names are resolved against the cluster when there is one
	// (short names, kinds); without one, they must be written as the
	// archives name them (configmaps, deployments.apps).
	disc, err := o.discovery(f, len(o.files) == 0)
	if err != nil {
		return nil, err
	}
	scope, err := restore.NewScope(spec, disc, resourcesOf(sides))
	if err != nil {
		return nil, err
	}
	return backupdiff.Backups(cmd.Context(), sides[0].open, sides[1].open, sides[0].name, sides[1].name, backupdiff.Options{Scope: scope, Details: o.details})
}

// discovery is the cluster's, or, with no cluster, one that serves nothing.
func (o *diffOptions) discovery(f *clientcfg.Factory, useCluster bool) (*kube.Discovery, error) {
	if !useCluster {
		return kube.Offline(), nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return kube.NewDiscovery(dc)
}

func (o *diffOptions) againstCluster(cmd *cobra.Command, f *clientcfg.Factory, spec arkv1.RestoreSpec, s side) (*backupdiff.Report, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	// Reads only, page by page: a higher rate than client-go's default 5
	// per second keeps a large comparison from crawling.
	cfg.QPS, cfg.Burst = 50, 100
	disc, err := o.discovery(f, true)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	var backedUp []string
	if s.backup != nil {
		backedUp = resourcesOf([]side{s})
	}
	if problems := restore.Validate(spec, disc, s.name, backedUp); len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	scope, err := restore.NewScope(spec, disc, backedUp)
	if err != nil {
		return nil, err
	}
	opts := backupdiff.ClusterOptions{Options: backupdiff.Options{Scope: scope, Details: o.details}, Discovery: disc, Dynamic: dyn,
		IncludeNew: o.includeNew, First: s.name}
	if o.includeNew {
		if s.backup == nil {
			return nil, fmt.Errorf("--include-new needs to know what the backup covers: give the backup's NAME, or its ark-backup.json with --metadata")
		}
		if opts.BackupScope, err = backupscope.NewScope(s.backup.Spec, disc); err != nil {
			return nil, err
		}
	}
	rc, err := s.open(cmd.Context())
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return backupdiff.AgainstCluster(cmd.Context(), rc, opts)
}

func printDiff(w io.Writer, rep *backupdiff.Report, details bool) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("Comparing %s with %s, as a restore would see them (fields the cluster manages are ignored).", rep.First, rep.Second)
	p("")
	newCol := func(c backupdiff.Counts) string {
		if !rep.IncludesNew {
			return "-"
		}
		return strconv.Itoa(c.New)
	}
	var rows [][]string
	for _, r := range rep.Resources {
		if r.Unchanged+r.Changed+r.Gone+r.New+r.Errors == 0 {
			continue
		}
		rows = append(rows, []string{r.Resource, strconv.Itoa(r.Unchanged), strconv.Itoa(r.Changed), strconv.Itoa(r.Gone), newCol(r.Counts)})
	}
	t := rep.Total
	rows = append(rows, []string{"TOTAL", strconv.Itoa(t.Unchanged), strconv.Itoa(t.Changed), strconv.Itoa(t.Gone), newCol(t)})
	_ = output.Table(w, []string{"RESOURCE", "UNCHANGED", "CHANGED", "GONE", "NEW"}, rows)
	if t.Skipped > 0 {
		p("(%d items of the backup are not compared: a restore with these filters would not restore them)", t.Skipped)
	}
	if !rep.IncludesNew {
		p("(objects the backup does not have are not listed: add --include-new)")
	}
	if len(rep.Items) > 0 {
		p("")
		p("Differences:")
		for _, it := range rep.Items {
			where := it.Name
			if it.Namespace != "" {
				where = it.Namespace + "/" + it.Name
			}
			if it.BackedUpNamespace != "" {
				where += " (backed up in " + it.BackedUpNamespace + ")"
			}
			line := fmt.Sprintf("  %-9s %s %s", it.Status, it.Resource, where)
			switch {
			case it.Reason != "":
				line += ": " + it.Reason
			case len(it.Paths) > 0 && !details:
				line += ": " + strings.Join(it.Paths, ", ")
			}
			p("%s", line)
			if details {
				for _, c := range it.Changes {
					p("      %s", c)
				}
			}
		}
	} else if t.Changed+t.Gone+t.New+t.Errors == 0 {
		p("")
		p("No differences.")
	}
	for _, n := range rep.Notes {
		p("Note: %s", n)
	}
}
