// Package restore is Ark's restore engine: it takes an extracted, verified
// backup (archive.Contents) and a Restore's spec, and creates the objects in
// the cluster.
//
// Order: each target namespace is created before its first item; then the
// archive's resources are restored one tier at a time, in the priority order
// (DefaultPriorities unless told otherwise), then the remaining resources
// alphabetically. Within a tier, items are created by a bounded pool of
// workers; a tier ends before the next begins. Restored
// CustomResourceDefinitions are waited for (Established, then present in
// discovery) before the next tier, so custom resources can follow them into
// an empty cluster.
//
// An object that already exists is left as it is and reported as a warning,
// or, with existingResourcePolicy "update", patched to the backed-up state
// (existing.go); it is never deleted. Other failures are reported per item and the
// restore goes on; Run returns an error only when the restore as a whole
// cannot run (missing inputs, a bad label selector or namespace mapping, or a
// cancelled context).
package restore

import (
	"context"

	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/restoreplan"
)

// DefaultPriorities is the restore order of the resources that others depend
// on. Anything not listed follows, alphabetically.
var DefaultPriorities = []string{
	"customresourcedefinitions",
	"namespaces",
	"storageclasses",
	"persistentvolumes",
	"persistentvolumeclaims",
	// ServiceAccounts before Secrets: the token controller deletes a
	// ServiceAccount token Secret whose ServiceAccount does not exist.
	"serviceaccounts",
	"secrets",
	"configmaps",
	"limitranges",
	"pods",
}

// DefaultWorkers is how many items of one resource are worked on at once
// when Options.Workers is not set. It is an upper bound: the server's
// adaptive write limit (internal/kube/adaptive) decides how many creates are
// in flight, so it is set high enough not to hold that limit back.
const DefaultWorkers = 64

// Options are the inputs of one restore.
type Options struct {
	// Restore gives the spec (filters, namespaceMapping, labelSelector,
	// restorePVs, includeClusterResources) and the name put in the
	// ark-restore label. Run copies it (and Backup) first, so the caller may
	// change them (their status) while the restore runs.
	Restore *arkv1.Restore
	// Backup gives status.volumeBackups (PV name -> snapshot). May be nil.
	Backup *arkv1.Backup
	// Contents is the extracted, verified archive. Items are read from it
	// one at a time, as they are restored.
	Contents *archive.Contents
	// Discovery must be able to see CRDs created during the restore on
	// Refresh (do not build it on a caching discovery client).
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	// Priorities is the restore order; nil means DefaultPriorities.
	Priorities []string
	// Workers is how many items of one resource are created in parallel;
	// 0 means DefaultWorkers. The client's QPS limit is the other bound.
	Workers int
	// Volumes creates volumes from snapshots. nil: PVs are restored as
	// objects only.
	Volumes VolumeRestorer
	// Modifiers are the restore's resource modifier rules (read by the
	// caller from the ConfigMap spec.resourceModifier names); nil: none.
	Modifiers *Modifiers
	// PodExec runs the restore's exec hooks in restored pods; nil fails
	// every exec hook, saying so.
	PodExec hooks.PodExecutor
	// Log receives the restore's log; nil discards it.
	Log *slog.Logger
	// Progress, when set, is called after every item (never concurrently);
	// the caller rate-limits what it does with it.
	Progress func(arkv1.RestoreProgress)
	// DryRun previews the restore (dryrun.go): every create is the API
	// server's dry run and nothing is created; Plan, when set, receives
	// what each item would do, and Result.Plan sums it up.
	DryRun bool
	Plan   restoreplan.Recorder
	// ItemActions (plugins') run in order on the items each applies to,
	// after Ark's own changes and before the item is created (or, in a dry
	// run, sent to the API server's dry run). Their selectors name the
	// backed-up namespace.
	ItemActions []ItemAction
}

// VolumeRestorer creates the volume of a PersistentVolume from its snapshot
// and returns the PV to create, pointing at the new volume.
type VolumeRestorer interface {
	RestoreVolume(ctx context.Context, pv *unstructured.Unstructured, snap *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error)
}

// Result is what a restore did. Warnings and Errors are what is stored as
// restore-<name>-results.gz. TotalItems counts the items that pass the
// filters: it is first computed from the archive's listing and lowered as
// items turn out to be skipped (label selector, controller owner, PVs no
// restored claim uses). ItemsRestored counts the objects created; an item
// that already existed or failed counts in TotalItems but not here.
type Result struct {
	Warnings, Errors arkv1.RestoreResult
	ItemsRestored    int
	TotalItems       int
	// ItemsUpdated and ItemsUnchanged count the existing objects patched to
	// the backed-up state, and those found in it (existingResourcePolicy
	// update).
	ItemsUpdated, ItemsUnchanged int
	// UnverifiedArchive is set when the archive has no index (Heptio Ark
	// and Velero write none), so its items could not be checked one by one:
	// it says who wrote it and what was checked, for the restore's status.
	UnverifiedArchive string
	// Hooks counts the exec hooks run in restored pods; nil when none ran.
	Hooks *arkv1.HookStatus
	// Plan sums up a dry run (Options.DryRun); nil otherwise.
	Plan *restoreplan.Summary
}

// Run restores opts.Contents into the cluster. Per-item problems go into the
// Result; the error is for problems of the whole restore, with the Result of
// what was done until then.
func Run(ctx context.Context, opts Options) (Result, error) {
	r, err := newRestorer(opts)
	if err != nil {
		return Result{}, err
	}
	err = r.run(ctx)
	// The exec hooks of restored pods run in the background; the restore
	// ends when they have (each is bounded by its timeouts).
	hookStatus := r.hooks.wait()
	res := r.result()
	res.Hooks = hookStatus
	return res, err
}

type restorer struct {
	opts      Options
	spec      arkv1.RestoreSpec
	log       *slog.Logger
	workers   int
	selector  labels.Selector
	nsFilter  *filter.IncludesExcludes
	resFilter *filter.IncludesExcludes
	// statusFilter selects the resources whose status is restored; nil:
	// none.
	statusFilter *filter.IncludesExcludes
	// unmatched are the resource names that match nothing in the cluster
	// or the archive: most likely typos.
	unmatched       []filter.Unmatched
	statusUnmatched []filter.Unmatched
	builtin         actionOptions
	tokens          tokenSecrets
	// holdTokens is set while a ServiceAccounts tier is still to come
	// after the Secrets one (a priority order that puts Secrets first):
	// token Secrets then wait for their ServiceAccounts (tokens.go).
	holdTokens atomic.Bool

	results    results
	namespaces namespaceCreator
	crds       crdSet
	hooks      podHooks
	preview    *preview // nil unless Options.DryRun

	total     atomic.Int64
	restored  atomic.Int64
	updated   atomic.Int64
	unchanged atomic.Int64

	progressMu sync.Mutex
	current    string

	// pluginActions are the plugins' ItemActions with their selectors
	// resolved.
	pluginActions []selectedAction
}

func newRestorer(opts Options) (*restorer, error) {
	var missing []string
	if opts.Restore == nil {
		missing = append(missing, "Restore")
	}
	if opts.Contents == nil {
		missing = append(missing, "Contents")
	}
	if opts.Discovery == nil {
		missing = append(missing, "Discovery")
	}
	if opts.Dynamic == nil {
		missing = append(missing, "Dynamic")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("restore: Options.%v must be set", missing)
	}
	// The engine reads its own copies: the caller goes on writing the
	// Restore's status (progress) while the restore runs, and a shared map
	// (namespaceMapping) would race.
	opts.Restore = opts.Restore.DeepCopy()
	opts.Backup = opts.Backup.DeepCopy()
	spec := opts.Restore.Spec
	selector := labels.Everything()
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("restore %s: spec.labelSelector is invalid: %w", opts.Restore.Name, err)
		}
		selector = s
	}
	if problems := validateNamespaceMapping(spec.NamespaceMapping); len(problems) > 0 {
		return nil, fmt.Errorf("restore %s: %s", opts.Restore.Name, strings.Join(problems, "; "))
	}
	podHookSpecs, err := hooks.NewRestoreHooks(spec.Hooks)
	if err != nil {
		return nil, fmt.Errorf("restore %s: spec.hooks: %w", opts.Restore.Name, err)
	}
	if opts.Priorities == nil {
		opts.Priorities = DefaultPriorities
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &restorer{
		opts:     opts,
		spec:     spec,
		log:      log,
		workers:  workers,
		selector: selector,
		nsFilter: filter.New(spec.IncludedNamespaces, spec.ExcludedNamespaces),
	}
	known := slices.Sorted(maps.Keys(opts.Contents.Resources))
	r.resFilter, r.unmatched = filter.Resources(opts.Discovery, known, spec.IncludedResources, spec.ExcludedResources)
	if rs := spec.RestoreStatus; rs != nil && len(rs.IncludedResources) > 0 {
		r.statusFilter, r.statusUnmatched = filter.Resources(opts.Discovery, known, rs.IncludedResources, rs.ExcludedResources)
	}
	r.builtin = actionOptions{namespaceMapping: spec.NamespaceMapping, preserveNodePorts: spec.PreserveNodePorts != nil && *spec.PreserveNodePorts}
	r.namespaces.r = r
	r.results.log = log
	r.hooks = podHooks{
		hooks:   podHookSpecs,
		runner:  &hooks.Runner{Executor: opts.PodExec, Log: log},
		dynamic: opts.Dynamic,
		results: &r.results,
	}
	if opts.DryRun {
		r.preview = newPreview(r)
	}
	return r, nil
}

func (r *restorer) run(ctx context.Context) error {
	p := makePlan(r.opts.Contents, r.opts.Discovery, r.opts.Priorities, r.nsFilter, r.resFilter, r.spec.IncludeClusterResources)
	for _, w := range p.warnings {
		r.results.arkWarning("%s", w)
	}
	for _, u := range r.unmatched {
		r.results.arkWarning("%s resource %q matches nothing in the cluster or the backup, so it has no effect: %v", u.List(), u.Name, u.Err)
	}
	for _, u := range r.statusUnmatched {
		r.results.arkWarning("restoreStatus: %s resource %q matches nothing in the cluster or the backup, so it has no effect: %v", u.List(), u.Name, u.Err)
	}
	r.resolveActions()
	r.total.Store(int64(p.total))
	// The caller's logger names the restore already.
	r.log.Info("restore planned", "resources", len(p.tiers), "items", p.total)
	if note := r.opts.Contents.Format.Unverified(); note != "" {
		r.log.Warn(note, "format", r.opts.Contents.Format.Version)
	}
	r.reportProgress(namespacesKey)

	if err := r.restoreNamespaceObjects(ctx); err != nil {
		return err
	}
	lastSA := serviceAccountsAfterSecrets(p.tiers)
	r.holdTokens.Store(lastSA >= 0)
	for i, t := range p.tiers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("restore %s stopped before %s: %w", r.opts.Restore.Name, t.key, err)
		}
		r.reportProgress(t.key)
		if err := r.restoreTier(ctx, t); err != nil {
			return err
		}
		if i == lastSA {
			r.holdTokens.Store(false)
			r.restoreTokenSecrets(ctx)
		}
	}
	r.restoreTokenSecrets(ctx) // when the restore stopped holding them before
	return nil
}

// restoreNamespaceObjects creates the backed-up namespaces that pass the
// filters even when none of their items does (an empty namespace is part of
// what was backed up). Namespaces with items are created anyway, before them.
func (r *restorer) restoreNamespaceObjects(ctx context.Context) error {
	items := r.opts.Contents.Resources[namespacesKey]
	if items == nil || !r.resFilter.ShouldInclude(namespacesKey) {
		return nil
	}
	for name := range items.Cluster.All() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("restore %s stopped while creating namespaces: %w", r.opts.Restore.Name, err)
		}
		if !r.nsFilter.ShouldInclude(name) {
			continue
		}
		target := r.targetNamespace(name)
		obj, err := r.readItem(archive.Item{Resource: namespacesKey, Name: name})
		if err != nil {
			r.results.error(target, "%v", err)
			continue
		}
		if !r.selector.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		_ = r.namespaces.ensure(ctx, target, name) // failures are reported by ensure
	}
	return nil
}

func (r *restorer) targetNamespace(source string) string {
	if dst := r.spec.NamespaceMapping[source]; dst != "" {
		return dst
	}
	return source
}

// restoreTier creates the items of one resource with a bounded worker pool
// and returns when all are done.
func (r *restorer) restoreTier(ctx context.Context, t tier) error {
	res, served := r.opts.Discovery.ForGroupResource(t.gr)
	if !served && r.preview != nil {
		return r.preview.unserved(ctx, t)
	}
	if !served {
		r.results.arkWarning("resource %s is not served by this cluster (its API group or CustomResourceDefinition is missing), so its %d items in the backup were not restored", t.key, t.total)
		r.log.Warn("resource not served, skipped", "resource", t.key, "items", t.total)
		return nil
	}
	r.chooseVersionAgain(&t)
	r.log.Info("restoring resource", "resource", t.key, "version", t.copy.version, "items", t.total)

	items := make(chan archive.Item)
	var wg sync.WaitGroup
	for range min(r.workers, t.total) {
		wg.Go(func() {
			for item := range items {
				// Once stopped (a cancel), no item is started; one that
				// was is finished, so what the cluster holds is what the
				// result counts.
				if ctx.Err() != nil {
					continue
				}
				r.restoreItem(ctx, t, res, item)
			}
		})
	}
	send := func(item archive.Item) bool {
		select {
		case items <- item:
			return true
		case <-ctx.Done():
			return false
		}
	}
	stopped := !t.each(send)
	close(items)
	wg.Wait()
	if stopped {
		return fmt.Errorf("restore %s stopped during %s: %w", r.opts.Restore.Name, t.key, ctx.Err())
	}
	if t.key == crdsKey && r.preview == nil {
		return r.awaitCRDs(ctx, res.GVR, r.crds.take())
	}
	return nil
}

// skip takes an item that turned out not to be restorable out of the total.
func (r *restorer) skip() {
	r.total.Add(-1)
}

func (r *restorer) reportProgress(current string) {
	if r.opts.Progress == nil {
		return
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	if current != "" {
		r.current = current
	}
	r.opts.Progress(arkv1.RestoreProgress{
		TotalItems:      int(r.total.Load()),
		ItemsRestored:   int(r.restored.Load()),
		CurrentResource: r.current,
	})
}

func (r *restorer) result() Result {
	warnings, errs := r.results.sorted()
	res := Result{
		Warnings:          warnings,
		Errors:            errs,
		ItemsRestored:     int(r.restored.Load()),
		TotalItems:        int(r.total.Load()),
		ItemsUpdated:      int(r.updated.Load()),
		ItemsUnchanged:    int(r.unchanged.Load()),
		UnverifiedArchive: r.opts.Contents.Format.Unverified(),
	}
	if r.preview != nil {
		res.Plan = r.preview.summary()
	}
	return res
}
