// Package backup is the backup engine: it discovers what the cluster serves,
// filters it by the backup's spec, runs the built-in item actions, and streams
// every item into an archive as it is listed. It knows nothing of controllers
// or the CLI.
package backup

import (
	"context"
	"encoding/json"
	"errors"

	"fmt"
	"io"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/kube"
)

// DefaultPageSize is how many items one LIST call asks for.
const DefaultPageSize = 500

// maxRecordedProblems bounds status.problems; the log has every one.
const maxRecordedProblems = 50

// VolumeSnapshotter snapshots a PersistentVolume. It returns nil info (and no
// error) when the configured provider does not own the volume.
type VolumeSnapshotter interface {
	SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error)
}

// Options are the inputs of one backup.
type Options struct {
	// Backup gives the spec and the name. Run copies it first, so the
	// caller may change its Backup (its status) while the backup runs.
	Backup    *arkv1.Backup
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	// PageSize is the LIST page size (default DefaultPageSize).
	PageSize int64
	// Volumes snapshots PVs; nil means no snapshots.
	Volumes VolumeSnapshotter
	Log     *slog.Logger
	// Progress is called after every item; the caller rate-limits.
	Progress func(arkv1.BackupProgress)
	// ItemActions (plugins') run in order on the items each applies to, a
	// page of items per call, before the built-in actions, which see what
	// they returned.
	ItemActions []ItemAction
}

// Result is what a backup wrote and what went wrong along the way.
type Result struct {
	Archive        archive.Summary
	ResourceCounts map[string]int
	VolumeBackups  map[string]*arkv1.VolumeBackupInfo
	Warnings       int
	Errors         int
	// Problems holds the first problems with their reasons.
	Problems []arkv1.Problem
}

type engine struct {
	Options
	out        *archive.Writer
	namespaces *filter.IncludesExcludes
	resources  *filter.IncludesExcludes
	selector   labels.Selector
	// clusterScope says whether cluster-scoped resources are listed.
	clusterScope bool
	// pulledIn tracks items that actions can add a second time (PVCs via
	// pods, PVs via PVCs). Only those are tracked, so memory stays flat
	// however many ConfigMaps or Secrets the cluster holds.
	pulledIn map[string]bool
	// seenNamespaces collects the namespaces items came from, so their
	// Namespace objects are backed up too.
	seenNamespaces map[string]bool
	progress       arkv1.BackupProgress
	result         Result
	// actions are ItemActions with their selectors resolved.
	actions []selectedAction
}

// Run backs up the cluster as opts.Backup says, streaming a tar.gz into out.
// It returns an error only when the archive itself could not be written (the
// backup failed); problems with single items are counted in the Result.
func Run(ctx context.Context, opts Options, out io.Writer) (*Result, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	// The engine reads its own copy: the caller goes on writing the
	// Backup's status (progress) while the backup runs.
	opts.Backup = opts.Backup.DeepCopy()
	spec := opts.Backup.Spec
	resources, unmatched := filter.Resources(opts.Discovery, nil, spec.IncludedResources, spec.ExcludedResources)
	if len(unmatched) > 0 {
		return nil, fmt.Errorf("invalid backup spec: %v", unmatched[0].Err)
	}
	selector := labels.Everything()
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		selector = s
	}
	w, err := archive.NewWriter(out)
	if err != nil {
		return nil, err
	}
	e := &engine{
		Options:        opts,
		out:            w,
		namespaces:     filter.New(spec.IncludedNamespaces, spec.ExcludedNamespaces),
		resources:      resources,
		selector:       selector,
		pulledIn:       map[string]bool{},
		seenNamespaces: map[string]bool{},
		result: Result{
			ResourceCounts: map[string]int{},
			VolumeBackups:  map[string]*arkv1.VolumeBackupInfo{},
		},
	}
	e.clusterScope = spec.IncludeClusterResources != nil && *spec.IncludeClusterResources ||
		spec.IncludeClusterResources == nil && e.namespaces.IncludesAll()
	e.resolveActions()
	opts.Log.Info("starting backup",
		"namespaces", filter.Summary(spec.IncludedNamespaces, spec.ExcludedNamespaces),
		"resources", filter.Summary(spec.IncludedResources, spec.ExcludedResources),
		"selector", selector.String(), "clusterResources", e.clusterScope)

	for _, r := range orderResources(opts.Discovery.Resources()) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.wantResource(r) {
			continue
		}
		if err := e.backupResource(ctx, r); err != nil {
			return nil, err
		}
	}
	if err := e.backupNamespaces(ctx); err != nil {
		return nil, err
	}
	summary, err := w.Close()
	if err != nil {
		return nil, fmt.Errorf("finishing the archive: %w", err)
	}
	e.result.Archive = summary
	opts.Log.Info("backup archive written", "items", summary.Items, "bytes", summary.Size,
		"sha256", summary.SHA256, "warnings", e.result.Warnings, "errors", e.result.Errors)
	return &e.result, nil
}

// wantResource applies the resource filters and the defaults: events and
// Ark's own resources are left out unless named explicitly; namespaces are
// handled at the end; cluster-scoped resources follow includeClusterResources.
func (e *engine) wantResource(r kube.Resource) bool {
	gr := r.GroupResource()
	name := gr.String()
	if !e.resources.ShouldInclude(name) {
		return false
	}
	explicit := false
	for _, n := range e.resources.Explicit() {
		explicit = explicit || n == name
	}
	switch {
	case gr == schema.GroupResource{Resource: "namespaces"}:
		return false
	case gr.Resource == "events" && (gr.Group == "" || gr.Group == "events.k8s.io") && !explicit:
		return false
	case gr.Group == arkv1.SchemeGroupVersion.Group && !explicit:
		return false
	case !r.Namespaced && !e.clusterScope:
		return false
	}
	return true
}

func (e *engine) backupResource(ctx context.Context, r kube.Resource) error {
	name := r.GroupResource().String()
	e.progress.CurrentResource = name
	e.Log.Debug("listing", "resource", name)
	client := e.Dynamic.Resource(r.GVR)
	var targets []dynamic.ResourceInterface
	switch {
	case !r.Namespaced:
		targets = []dynamic.ResourceInterface{client}
	case e.namespaces.Explicit() != nil:
		for _, ns := range e.namespaces.Explicit() {
			targets = append(targets, client.Namespace(ns))
		}
	default: // every namespace, maybe minus some: one cluster-wide list is cheapest
		targets = []dynamic.ResourceInterface{client.Namespace(metav1.NamespaceAll)}
	}
	for _, target := range targets {
		err := e.listPages(ctx, target, func(page []unstructured.Unstructured) error {
			var items []*unstructured.Unstructured
			for i := range page {
				if r.Namespaced && !e.namespaces.ShouldInclude(page[i].GetNamespace()) {
					continue
				}
				items = append(items, &page[i])
			}
			return e.backupItems(ctx, r, items)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// listPages pages through a LIST, handing each page to fn, so only one page
// is ever in memory. A failing LIST is a problem of this resource, not of the
// backup: the error is recorded and the backup goes on.
func (e *engine) listPages(ctx context.Context, target dynamic.ResourceInterface, fn func([]unstructured.Unstructured) error) error {
	opts := metav1.ListOptions{Limit: e.PageSize, LabelSelector: e.selector.String()}
	for {
		page, err := target.List(ctx, opts)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.problem("error", e.progress.CurrentResource, "", "", fmt.Sprintf("listing failed: %v", err))
			return nil
		}
		e.progress.TotalItems += len(page.Items)
		if err := fn(page.Items); err != nil {
			return err
		}
		if page.GetContinue() == "" {
			return nil
		}
		opts.Continue = page.GetContinue()
	}
}

// backupItem backs up one item: a batch of one.
func (e *engine) backupItem(ctx context.Context, r kube.Resource, item *unstructured.Unstructured) error {
	return e.backupItems(ctx, r, []*unstructured.Unstructured{item})
}

// backupItems runs the actions of a batch of items of one resource (the
// plugins' in one call per action) and writes them. Only a failure of the
// archive stream itself (the upload died) is returned; everything else,
// including an item the archive refuses, is recorded as a problem.
func (e *engine) backupItems(ctx context.Context, r kube.Resource, items []*unstructured.Unstructured) error {
	gr := r.GroupResource()
	admitted := items[:0:0]
	for _, item := range items {
		if e.admit(gr, item) {
			admitted = append(admitted, item)
		}
	}
	if len(admitted) == 0 {
		return nil
	}
	var outcomes []pluginOutcome
	if len(e.actions) > 0 {
		outcomes = e.runPluginActions(ctx, gr.String(), admitted)
	}
	for i, item := range admitted {
		var plugged pluginOutcome
		if outcomes != nil {
			plugged = outcomes[i]
			item = plugged.item
		}
		if err := e.writeItem(ctx, r, item, plugged); err != nil {
			return err
		}
	}
	return nil
}

// admit decides whether an item is backed up now (not twice when actions
// pull it in again) and notes its namespace.
func (e *engine) admit(gr schema.GroupResource, item *unstructured.Unstructured) bool {
	key := gr.String() + "/" + item.GetNamespace() + "/" + item.GetName()
	if tracksPullIns(gr) {
		if e.pulledIn[key] {
			return false
		}
		e.pulledIn[key] = true
	}
	if ns := item.GetNamespace(); ns != "" {
		e.seenNamespaces[ns] = true
	}
	// managedFields are bookkeeping of the source cluster's API server; the
	// restore drops them, so they only cost space.
	item.SetManagedFields(nil)
	return true
}

// writeItem runs the built-in actions on an item the plugins' actions have
// had, writes it, and backs up what the actions pulled in.
func (e *engine) writeItem(ctx context.Context, r kube.Resource, item *unstructured.Unstructured, plugged pluginOutcome) error {
	gr := r.GroupResource()
	for _, msg := range plugged.errs {
		e.problem("error", gr.String(), item.GetNamespace(), item.GetName(), msg)
	}
	additional, err := e.runActions(ctx, gr, item)
	if err != nil {
		e.problem("error", gr.String(), item.GetNamespace(), item.GetName(), err.Error())
	}
	additional = append(additional, plugged.additional...)
	data, err := json.Marshal(item.Object)
	if err != nil {
		e.problem("error", gr.String(), item.GetNamespace(), item.GetName(), fmt.Sprintf("encoding: %v", err))
		return nil
	}
	if err := e.out.Add(archive.Item{Resource: gr.String(), Namespace: item.GetNamespace(), Name: item.GetName()}, data); err != nil {
		var refused *archive.ItemError
		if errors.As(err, &refused) {
			// This one object cannot be stored; the archive is intact and
			// every other object still can be.
			e.problem("error", gr.String(), item.GetNamespace(), item.GetName(), fmt.Sprintf("not backed up: %s", refused.Reason))
			return nil
		}
		return fmt.Errorf("writing %s %s/%s to the archive: %w", gr, item.GetNamespace(), item.GetName(), err)
	}
	e.result.ResourceCounts[gr.String()]++
	e.progress.ItemsBackedUp++
	if e.Progress != nil {
		e.Progress(e.progress)
	}
	for _, ref := range additional {
		if err := e.backupAdditional(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

func tracksPullIns(gr schema.GroupResource) bool {
	return gr.Group == "" && (gr.Resource == "persistentvolumeclaims" || gr.Resource == "persistentvolumes")
}

// itemRef names an item an action wants backed up along with another.
type itemRef struct {
	Resource  schema.GroupResource
	Namespace string
	Name      string
}

// backupAdditional fetches and backs up an item an action pulled in. It
// follows the namespace and resource filters; a PV pulled in by a claim comes
// along unless cluster resources were explicitly excluded.
func (e *engine) backupAdditional(ctx context.Context, ref itemRef) error {
	r, ok := e.Discovery.ForGroupResource(ref.Resource)
	if !ok || !e.resources.ShouldInclude(ref.Resource.String()) {
		return nil
	}
	if r.Namespaced && !e.namespaces.ShouldInclude(ref.Namespace) {
		return nil
	}
	if !r.Namespaced && e.Backup.Spec.IncludeClusterResources != nil && !*e.Backup.Spec.IncludeClusterResources {
		return nil
	}
	if e.pulledIn[ref.Resource.String()+"/"+ref.Namespace+"/"+ref.Name] {
		return nil
	}
	client := e.Dynamic.Resource(r.GVR)
	var getter dynamic.ResourceInterface = client
	if r.Namespaced {
		getter = client.Namespace(ref.Namespace)
	}
	item, err := getter.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			e.problem("warning", ref.Resource.String(), ref.Namespace, ref.Name, "referenced but does not exist; not backed up")
			return nil
		}
		e.problem("error", ref.Resource.String(), ref.Namespace, ref.Name, fmt.Sprintf("fetching: %v", err))
		return nil
	}
	e.progress.TotalItems++
	return e.backupItem(ctx, r, item)
}

// backupNamespaces writes the Namespace object of every namespace that items
// came from or that the spec names, so a restore recreates them with their
// labels and annotations.
func (e *engine) backupNamespaces(ctx context.Context) error {
	r, ok := e.Discovery.ForGroupResource(schema.GroupResource{Resource: "namespaces"})
	if !ok {
		return nil
	}
	wanted := map[string]bool{}
	for ns := range e.seenNamespaces {
		wanted[ns] = true
	}
	for _, ns := range e.namespaces.Explicit() {
		wanted[ns] = true
	}
	if e.namespaces.Explicit() == nil && e.selector.Empty() {
		// Every namespace (but the excluded ones) is in scope, empty ones too.
		return e.listPages(ctx, e.Dynamic.Resource(r.GVR), func(page []unstructured.Unstructured) error {
			var items []*unstructured.Unstructured
			for i := range page {
				if e.namespaces.ShouldInclude(page[i].GetName()) {
					items = append(items, &page[i])
				}
			}
			return e.backupItems(ctx, r, items)
		})
	}
	e.progress.CurrentResource = "namespaces"
	for ns := range wanted {
		if !e.namespaces.ShouldInclude(ns) {
			continue
		}
		item, err := e.Dynamic.Resource(r.GVR).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				e.problem("warning", "namespaces", "", ns, fmt.Sprintf("fetching the namespace: %v", err))
			}
			continue
		}
		e.progress.TotalItems++
		if err := e.backupItem(ctx, r, item); err != nil {
			return err
		}
	}
	return nil
}

// problem counts a warning or error and keeps the first ones for the status.
func (e *engine) problem(severity, resource, namespace, name, msg string) {
	if severity == "error" {
		e.result.Errors++
		e.Log.Error(msg, "resource", resource, "namespace", namespace, "name", name)
	} else {
		e.result.Warnings++
		e.Log.Warn(msg, "resource", resource, "namespace", namespace, "name", name)
	}
	if len(e.result.Problems) < maxRecordedProblems {
		e.result.Problems = append(e.result.Problems, arkv1.Problem{
			Severity: severity, Resource: resource, Namespace: namespace, Name: name, Message: msg,
		})
	}
}
