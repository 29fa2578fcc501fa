package restore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/objdiff"
	"github.com/heptio/ark/internal/restoreplan"
)

// preview is a dry run of a restore (Options.DryRun): the restore runs its
// whole plan - filters, order, namespaces, transforms - but every create is
// the API server's own dry run (dryRun=All), so admission, schemas and
// quotas are checked by the cluster and nothing is created. Each item's
// outcome goes to the plan (restoreplan):
//
//   - WouldCreate: the API server accepted the dry-run create.
//   - Identical / Differs: the object exists; it is compared with what the
//     restore would create, normalized as `ark backup diff` does.
//   - WouldFail: the API server refused it, with its reason; or creating it
//     would pass a ResourceQuota's object count that each dry run alone
//     passes (the server checks each item against the quota as it stands,
//     not against the items created before it).
//   - NotChecked: the API server cannot check it yet. An object cannot be
//     dry-run into a namespace that does not exist (the namespace's own
//     creation is dry-run instead), nor a custom resource before its
//     CustomResourceDefinition exists (the CRD's creation is).
//
// Volumes are not created from snapshots, and restored CRDs are not waited
// for.
type preview struct {
	r     *restorer
	tally *restoreplan.Tally

	mu         sync.Mutex
	namespaces map[string]namespacePreview
	// newCRDs maps what the CRDs the restore would create serve to the
	// CRD's name.
	newCRDs map[schema.GroupResource]string
	quotas  map[string][]*quotaCount // per target namespace, loaded once
}

type namespacePreview struct {
	missing bool   // the restore would create it
	failed  string // its creation would fail, and why
}

func newPreview(r *restorer) *preview {
	return &preview{r: r, tally: &restoreplan.Tally{Next: r.opts.Plan}, namespaces: map[string]namespacePreview{},
		newCRDs: map[schema.GroupResource]string{}, quotas: map[string][]*quotaCount{}}
}

var dryRunAll = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

// namespace previews the creation of a target namespace, in place of
// namespaceCreator.create. Its outcome is a plan item, and it is remembered
// for the namespace's items; the error is always nil, so the namespace's
// items are previewed too.
func (p *preview) namespace(ctx context.Context, ns *unstructured.Unstructured, target string, fromBackup bool) error {
	entry := restoreplan.Item{Resource: namespacesKey, Name: target, Kind: "Namespace"}
	state := namespacePreview{}
	client := p.r.opts.Dynamic.Resource(namespacesGVR)
	existing, err := client.Get(ctx, target, metav1.GetOptions{})
	switch {
	case err == nil && existing.GetDeletionTimestamp() != nil:
		entry.Outcome = restoreplan.WouldFail
		entry.Reason = "it is being deleted: wait until it is gone, or map it to another namespace with namespaceMapping"
		state.failed = entry.Reason
	case err == nil && !fromBackup:
		entry.Outcome, entry.Reason = restoreplan.Identical, "exists (the backup has no Namespace object to compare it with)"
	case err == nil:
		p.compare(&entry, namespacesKey, ns, existing)
	case apierrors.IsNotFound(err):
		if _, err := client.Create(ctx, ns, dryRunAll); err != nil {
			entry.Outcome, entry.Reason = restoreplan.WouldFail, err.Error()
			state.failed = err.Error()
		} else {
			entry.Outcome = restoreplan.WouldCreate
			state.missing = true
		}
	default:
		entry.Outcome, entry.Reason = restoreplan.NotChecked, fmt.Sprintf("could not read the namespace: %v", err)
	}
	p.mu.Lock()
	p.namespaces[target] = state
	p.mu.Unlock()
	p.tally.Record(entry)
	return nil
}

// item previews one item that passed the filters, in place of the rest of
// restoreItem.
func (p *preview) item(ctx context.Context, t tier, res kube.Resource, item archive.Item, obj *unstructured.Unstructured, target string) {
	r := p.r
	entry := restoreplan.Item{Resource: t.key, Namespace: target, Name: item.Name, Kind: obj.GetKind()}
	defer func() { p.tally.Record(entry) }()
	if t.copy.unserved != "" {
		entry.Outcome, entry.Reason = restoreplan.WouldFail, t.copy.unserved
		return
	}
	if target != "" {
		_ = r.namespaces.ensure(ctx, target, item.Namespace)
		p.mu.Lock()
		state := p.namespaces[target]
		p.mu.Unlock()
		switch {
		case state.failed != "":
			entry.Outcome, entry.Reason = restoreplan.WouldFail, fmt.Sprintf("its namespace %s could not be created: %s", target, state.failed)
			return
		case state.missing:
			entry.Outcome = restoreplan.NotChecked
			entry.Reason = fmt.Sprintf("namespace %s does not exist yet: a restore creates it first, and the API server cannot dry-run an object into a namespace that does not exist", target)
			return
		}
	}
	resetMetadataAndStatus(obj)
	if target != "" {
		obj.SetNamespace(target)
	}
	addRestoreLabel(obj, r.opts.Restore.Name)
	applyBuiltinActions(t.key, obj, r.builtin)
	if err := r.opts.Modifiers.Apply(t.key, obj); err != nil {
		entry.Outcome, entry.Reason = restoreplan.WouldFail, err.Error()
		return
	}
	gvr, err := createGVR(res, obj)
	if err != nil {
		entry.Outcome, entry.Reason = restoreplan.WouldFail, err.Error()
		return
	}
	var client dynamic.ResourceInterface = r.opts.Dynamic.Resource(gvr)
	if target != "" {
		client = r.opts.Dynamic.Resource(gvr).Namespace(target)
	}
	_, err = client.Create(ctx, obj, dryRunAll)
	switch {
	case err == nil:
		if over := p.reserveQuota(ctx, target, t.key); over != "" {
			entry.Outcome, entry.Reason = restoreplan.WouldFail, over
			return
		}
		entry.Outcome = restoreplan.WouldCreate
		if t.key == crdsKey {
			p.crdWouldBeCreated(obj)
		}
		if t.key == pvsKey {
			entry.Reason = p.volumeNote(obj)
		}
	case apierrors.IsAlreadyExists(err):
		live, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			entry.Outcome, entry.Reason = restoreplan.NotChecked, fmt.Sprintf("it exists, but could not be read to compare: %v", err)
			return
		}
		p.compare(&entry, t.key, obj, live)
	case apierrors.IsNotFound(err) && gvr.Version != res.GVR.Version:
		entry.Outcome = restoreplan.WouldFail
		entry.Reason = fmt.Sprintf("this cluster does not serve version %s of %s (it serves %s): %v", gvr.Version, t.key, res.GVR.Version, err)
	default:
		entry.Outcome, entry.Reason = restoreplan.WouldFail, err.Error()
	}
}

// compare sets an existing object's outcome: what the restore would create
// from the backup against what is there, both normalized.
func (p *preview) compare(entry *restoreplan.Item, resource string, fromBackup, live *unstructured.Unstructured) {
	a, b := fromBackup.DeepCopy(), live.DeepCopy()
	Normalize(resource, a)
	Normalize(resource, b)
	changes := objdiff.Compare(a.Object, b.Object)
	if len(changes) == 0 {
		entry.Outcome, entry.Reason = restoreplan.Identical, "exists, as in the backup; a restore leaves it"
		return
	}
	paths := objdiff.Paths(changes)
	if len(paths) > 5 {
		paths = append(paths[:5], fmt.Sprintf("and %d more", len(paths)-5))
	}
	entry.Outcome = restoreplan.Differs
	entry.Reason = "exists and differs from the backup in " + strings.Join(paths, ", ") + "; a restore leaves it as it is"
}

func (p *preview) crdWouldBeCreated(crd *unstructured.Unstructured) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	p.mu.Lock()
	p.newCRDs[schema.GroupResource{Group: group, Resource: plural}] = crd.GetName()
	p.mu.Unlock()
	p.tally.Note("CustomResourceDefinition %s would be created first; its custom resources cannot be dry-run until it exists", crd.GetName())
}

// volumeNote says what a restore would do with a persistent volume's
// snapshot, which a dry run does not do.
func (p *preview) volumeNote(pv *unstructured.Unstructured) string {
	snap := p.r.snapshotOf(pv.GetName())
	restorePVs := p.r.spec.RestorePVs
	if snap == nil || (restorePVs != nil && !*restorePVs) {
		return ""
	}
	return fmt.Sprintf("a restore would first create its volume from snapshot %s, which a dry run does not try", snap.SnapshotID)
}

// unserved previews the items of a resource the cluster does not serve.
func (p *preview) unserved(ctx context.Context, t tier) error {
	r := p.r
	p.mu.Lock()
	crd, willServe := p.newCRDs[t.gr]
	p.mu.Unlock()
	ok := t.each(func(item archive.Item) bool {
		if ctx.Err() != nil {
			return false
		}
		target := ""
		if item.Namespace != "" {
			target = r.targetNamespace(item.Namespace)
		}
		obj, err := r.readItem(item)
		if err != nil {
			r.results.error(target, "%v", err)
			return true
		}
		if !r.selector.Matches(labels.Set(obj.GetLabels())) {
			r.skip()
			return true
		}
		if _, _, owned := controllerOwner(obj); owned {
			r.skip()
			return true
		}
		entry := restoreplan.Item{Resource: t.key, Namespace: target, Name: item.Name, Kind: obj.GetKind(), Outcome: restoreplan.WouldFail,
			Reason: fmt.Sprintf("the cluster does not serve %s and the backup has no CustomResourceDefinition for it, so a restore would skip it", t.key)}
		if willServe {
			entry.Outcome = restoreplan.NotChecked
			entry.Reason = fmt.Sprintf("its CustomResourceDefinition %s is not in the cluster: a restore creates it first, and the API server cannot dry-run a custom resource before its CRD exists", crd)
		}
		p.tally.Record(entry)
		r.reportProgress("")
		return true
	})
	if !ok {
		return fmt.Errorf("restore %s stopped during %s: %w", r.opts.Restore.Name, t.key, ctx.Err())
	}
	return nil
}

func (p *preview) summary() *restoreplan.Summary {
	s := p.tally.Summary()
	return &s
}
