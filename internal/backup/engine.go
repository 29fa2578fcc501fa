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
	"runtime/debug"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/hooks"
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
	// PodExec runs the backup's hooks in pods; nil fails every hook the
	// backup has, saying so.
	PodExec hooks.PodExecutor
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
	// ExcludedItems counts, per resource, the items left out because they
	// carry the exclusion label.
	ExcludedItems map[string]int
	Warnings      int
	Errors        int
	// Problems holds the first problems with their reasons.
	Problems []arkv1.Problem
	// Hooks counts the hooks run in pods.
	Hooks arkv1.HookStatus
}

type engine struct {
	Options
	out        *archive.Writer
	namespaces *filter.IncludesExcludes
	resources  *filter.IncludesExcludes
	// selectors are the label selector, or the OR terms: an item is backed
	// up when it matches one of them.
	selectors []labels.Selector
	// clusterScope says whether cluster-scoped resources are listed.
	clusterScope bool
	// pulledIn tracks items that actions can add a second time (PVCs via
	// pods, PVs via PVCs). Only those are tracked, so memory stays flat
	// however many ConfigMaps or Secrets the cluster holds.
	pulledIn map[string]bool
	// seenNamespaces collects the namespaces items came from, so their
	// Namespace objects are backed up too.
	seenNamespaces map[string]bool
	// hooks are the spec's hooks; runner runs them and those of annotations.
	hooks  *hooks.BackupHooks
	runner *hooks.Runner
	// withheld are the claims and volumes of pods whose pre hook failed
	// with onError Fail: they are not backed up, even when listed later.
	withheld map[string]string
	progress arkv1.BackupProgress
	result   Result
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
	selectors, err := selectorsOf(spec)
	if err != nil {
		return nil, err
	}
	podHooks, err := hooks.NewBackupHooks(spec.Hooks)
	if err != nil {
		return nil, fmt.Errorf("invalid backup spec: %w", err)
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
		selectors:      selectors,
		pulledIn:       map[string]bool{},
		seenNamespaces: map[string]bool{},
		hooks:          podHooks,
		runner:         &hooks.Runner{Executor: opts.PodExec, Log: opts.Log},
		withheld:       map[string]string{},
		result: Result{
			ResourceCounts: map[string]int{},
			ExcludedItems:  map[string]int{},
			VolumeBackups:  map[string]*arkv1.VolumeBackupInfo{},
		},
	}
	e.clusterScope = spec.IncludeClusterResources != nil && *spec.IncludeClusterResources ||
		spec.IncludeClusterResources == nil && e.namespaces.IncludesAll()
	e.reportFailedGroups()
	e.resolveActions()
	opts.Log.Info("starting backup",
		"namespaces", filter.Summary(spec.IncludedNamespaces, spec.ExcludedNamespaces),
		"resources", filter.Summary(spec.IncludedResources, spec.ExcludedResources),
		"selector", selectorSummary(selectors), "clusterResources", e.clusterScope,
		"allAPIVersions", spec.IncludeAllAPIVersions)

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
		if e.result.ResourceCounts[r.GroupResource().String()] > 0 {
			if err := e.backupCRDOf(ctx, r); err != nil {
				return nil, err
			}
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
	// Items go to the plugins' actions a page at a time (one call per
	// action and page), so they are gathered here up to a page.
	var batch []*unstructured.Unstructured
	flush := func() error {
		err := e.backupItems(ctx, r, batch)
		batch = nil
		return err
	}
	firsts := e.firstPages(ctx, targets)
	for i, target := range targets {
		var first pageFunc
		if firsts != nil {
			first = firsts[i]
		}
		err := e.listPages(ctx, target, first, func(item *unstructured.Unstructured) error {
			if r.Namespaced && !e.namespaces.ShouldInclude(item.GetNamespace()) {
				return nil
			}
			batch = append(batch, item)
			if int64(len(batch)) >= e.PageSize {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// backupItems backs up a batch of items of one resource: the plugins'
// actions see the batch in one call each, unless there are none or the
// items are pods (whose hooks run around each one, before its actions).
func (e *engine) backupItems(ctx context.Context, r kube.Resource, items []*unstructured.Unstructured) error {
	gr := r.GroupResource()
	if len(e.actions) == 0 || gr == podResource {
		for _, item := range items {
			if err := e.backupItem(ctx, r, item); err != nil {
				return err
			}
		}
		return nil
	}
	admitted := items[:0:0]
	for _, item := range items {
		if e.admit(gr, item) {
			admitted = append(admitted, item)
		}
	}
	if len(admitted) == 0 {
		return nil
	}
	outcomes := e.runPluginActions(ctx, gr.String(), admitted)
	for i := range admitted {
		if err := e.writeAdmitted(ctx, r, outcomes[i]); err != nil {
			return err
		}
	}
	return nil
}

// backupItem backs up one item, and for a pod its hooks around it and
// everything it pulls in. Only a failure of the archive stream itself (the
// upload died) is returned; everything else, including an item the archive
// refuses, is recorded as a problem.
func (e *engine) backupItem(ctx context.Context, r kube.Resource, item *unstructured.Unstructured) error {
	if r.GroupResource() == podResource {
		return e.backupPod(ctx, r, item)
	}
	return e.writeItem(ctx, r, item)
}

// writeItem runs the item's actions (the plugins' in a call of one item),
// writes it, and backs up the items the actions pulled in.
func (e *engine) writeItem(ctx context.Context, r kube.Resource, item *unstructured.Unstructured) error {
	gr := r.GroupResource()
	if !e.admit(gr, item) {
		return nil
	}
	plugged := pluginOutcome{item: item}
	if len(e.actions) > 0 {
		plugged = e.runPluginActions(ctx, gr.String(), []*unstructured.Unstructured{item})[0]
	}
	return e.writeAdmitted(ctx, r, plugged)
}

// admit decides whether an item is backed up now (not twice when actions
// pull it in again, not when a failed pre hook withheld it) and notes its
// namespace.
func (e *engine) admit(gr schema.GroupResource, item *unstructured.Unstructured) bool {
	key := gr.String() + "/" + item.GetNamespace() + "/" + item.GetName()
	if !tracksPullIns(gr) && e.pulledIn[key] {
		delete(e.pulledIn, key) // pulled in by an action already; listed once
		e.progress.TotalItems--
		return false
	}
	if tracksPullIns(gr) {
		if e.pulledIn[key] {
			e.progress.TotalItems--
			return false
		}
		e.pulledIn[key] = true
		if reason, ok := e.withheld[key]; ok {
			e.Log.Info("not backed up: "+reason, "resource", gr.String(), "namespace", item.GetNamespace(), "name", item.GetName())
			return false
		}
	}
	if excludedByLabel(item.GetLabels()) {
		// Checked after the pull-in record, so a claim met twice (through
		// its pod, then listed) is counted once.
		e.result.ExcludedItems[gr.String()]++
		e.progress.TotalItems--
		e.Log.Info("not backed up: it carries the label "+arkv1.ExcludeFromBackupLabel+"=true",
			"resource", gr.String(), "namespace", item.GetNamespace(), "name", item.GetName())
		return false
	}
	if ns := item.GetNamespace(); ns != "" {
		e.seenNamespaces[ns] = true
	}
	// managedFields are bookkeeping of the source cluster's API server; the
	// restore drops them, so they only cost space.
	item.SetManagedFields(nil)
	return true
}

// writeAdmitted runs the built-in actions on an admitted item the plugins'
// actions have had, writes it, and backs up what the actions pulled in.
func (e *engine) writeAdmitted(ctx context.Context, r kube.Resource, plugged pluginOutcome) error {
	gr := r.GroupResource()
	item := plugged.item
	for _, msg := range plugged.errs {
		e.problem("error", gr.String(), item.GetNamespace(), item.GetName(), msg)
	}
	additional, err := e.runActionsRecovering(ctx, gr, item)
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
	if e.Backup.Spec.IncludeAllAPIVersions {
		if err := e.writeVersions(ctx, r, item, data); err != nil {
			return err
		}
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

// runActionsRecovering runs the item's actions and turns a panic (a bug set
// off by this one object, in an action or a volume provider's SDK) into an
// error of the item: the backup of everything else goes on, instead of the
// backup being left InProgress by a recovered reconciler, or the server dying.
func (e *engine) runActionsRecovering(ctx context.Context, gr schema.GroupResource, item *unstructured.Unstructured) (refs []itemRef, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.Log.Error("panic in a backup item action", "resource", gr.String(), "namespace", item.GetNamespace(), "name", item.GetName(), "panic", p, "stack", string(debug.Stack()))
			refs, err = nil, fmt.Errorf("internal error (a bug of Ark, please report it with the server's log): %v", p)
		}
	}()
	return e.runActions(ctx, gr, item)
}

func tracksPullIns(gr schema.GroupResource) bool {
	return gr == crdResource || gr.Group == "" && (gr.Resource == "persistentvolumeclaims" || gr.Resource == "persistentvolumes")
}

// itemRef names an item an action wants backed up along with another.
type itemRef struct {
	Resource  schema.GroupResource
	Namespace string
	Name      string
	// boundTo, for a PV pulled in by a claim, is that claim: the PV comes
	// along only if it is bound to it (volumeBoundTo).
	boundTo *unstructured.Unstructured
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
	key := ref.Resource.String() + "/" + ref.Namespace + "/" + ref.Name
	if e.pulledIn[key] || e.out.Has(archive.Item{Resource: ref.Resource.String(), Namespace: ref.Namespace, Name: ref.Name}) {
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
	if claim := ref.boundTo; claim != nil {
		if ok, why := volumeBoundTo(item, claim); !ok {
			e.problem("warning", pvcResource.String(), claim.GetNamespace(), claim.GetName(),
				fmt.Sprintf("the claim names volume %s in spec.volumeName, %s, so the volume is not backed up on this claim's account", ref.Name, why))
			return nil
		}
	}
	e.progress.TotalItems++
	if err := e.backupItem(ctx, r, item); err != nil {
		return err
	}
	if !tracksPullIns(ref.Resource) {
		// A plugin's action may pull in any kind (a pod's ConfigMaps): it is
		// remembered, so that the LIST of its resource, later, leaves it
		// out. Only pulled-in items are, so memory follows their number.
		e.pulledIn[key] = true
	}
	return nil
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
	if e.namespaces.Explicit() == nil && e.unselective() {
		// Every namespace (but the excluded ones) is in scope, empty ones too.
		return e.listPagesWith(ctx, e.Dynamic.Resource(r.GVR), labels.Everything(), nil, func(item *unstructured.Unstructured) error {
			if !e.namespaces.ShouldInclude(item.GetName()) {
				return nil
			}
			return e.backupItem(ctx, r, item)
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

// reportFailedGroups records, for a backup of every resource, each API
// group the discovery could not read: whatever it serves is missing, and
// the backup must not say Completed as if nothing were.
func (e *engine) reportFailedGroups() {
	if e.resources.Explicit() != nil {
		return // only named resources were wanted, and all were found
	}
	for _, g := range e.Discovery.FailedGroups() {
		group := g.GroupVersion.String()
		what := "API group " + group
		if g.GroupVersion.Empty() {
			what, group = "some API groups", ""
		}
		e.problem("error", group, "", "", fmt.Sprintf("%s could not be discovered, so whatever it serves is not in this backup (%v): repair the API service behind it (kubectl get apiservices) and back up again, or back up named resources only (--include-resources)", what, g.Err))
	}
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
			Severity: severity, Resource: clip(resource), Namespace: clip(namespace), Name: clip(name), Message: clip(msg),
		})
	}
}

// maxProblemField bounds each field of a recorded problem. The problems go
// into the Backup's status and its metadata file, and some of what they
// quote is any length a tenant likes: a pod's claimName, an RBAC object's
// name. Fifty problems quoting a 100 KiB claim name each would make the
// final status write larger than the API server accepts, and a tenant could
// keep every cluster backup from being recorded Completed. The log has
// every problem in full.
const maxProblemField = 512

func clip(s string) string {
	if len(s) <= maxProblemField {
		return s
	}
	cut := maxProblemField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes; the backup log has it whole)", s[:cut], len(s))
}
