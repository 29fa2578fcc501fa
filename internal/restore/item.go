package restore

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
)

// createTimeout bounds one create, which the restore's context does not
// end.
const createTimeout = 2 * time.Minute

// restoreItem reads one item from the archive, decides whether it is
// restored, prepares it and creates it. Every outcome but success and a
// deliberate skip is recorded in the results.
func (r *restorer) restoreItem(ctx context.Context, t tier, res kube.Resource, item archive.Item) {
	defer r.reportProgress("")
	target := ""
	if item.Namespace != "" {
		target = r.targetNamespace(item.Namespace)
	}
	// A bug set off by one object (in a transform, or in a volume
	// provider's SDK) is an error of that object: a panic in a worker
	// would take the whole server down, with every other restore and
	// backup it was running.
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic while restoring an item", "item", item.String(), "panic", p, "stack", string(debug.Stack()))
			r.results.error(target, "could not restore %s: internal error (a bug of Ark, please report it with the server's log): %v", item, p)
		}
	}()
	obj, err := r.readItem(item)
	if err != nil {
		r.results.error(target, "%v", err)
		return
	}
	if !r.selector.Matches(labels.Set(obj.GetLabels())) {
		r.skip()
		return
	}
	if kind, owner, ok := controllerOwner(obj); ok {
		r.log.Debug("skipped: its controller recreates it", "item", item.String(), "owner", kind+"/"+owner)
		r.skip()
		return
	}
	if t.cluster == clusterBoundPVs && item.Namespace == "" && !r.claimIsRestored(obj) {
		r.skip()
		return
	}
	if r.preview != nil {
		r.preview.item(ctx, t, res, item, obj, target)
		return
	}
	if t.copy.unserved != "" {
		r.results.error(target, "could not restore %s: %s", r.describe(obj, item, target), t.copy.unserved)
		return
	}
	if t.key == secretsKey && !t.tokensPass && r.holdTokens.Load() && isServiceAccountToken(obj) {
		r.tokens.hold(t, res, item)
		return
	}
	if target != "" {
		if r.namespaces.ensure(ctx, target, item.Namespace) != nil {
			return // reported once for the whole namespace
		}
	}
	what := r.describe(obj, item, target)

	var status any
	if r.restoresStatus(t.key) {
		status = obj.Object["status"]
	}
	resetMetadataAndStatus(obj)
	if target != "" {
		obj.SetNamespace(target)
	}
	addRestoreLabel(obj, r.opts.Restore.Name)
	applyBuiltinActions(t.key, obj, r.builtin)
	if len(r.pluginActions) > 0 {
		if obj, err = r.runPluginActions(ctx, t.key, item.Namespace, target, obj, what); err != nil {
			r.results.error(target, "%v", err)
			return
		}
	}
	// The user's modifier rules come after the plugins' actions: they have
	// the last word on what is created.
	if err := r.opts.Modifiers.Apply(t.key, obj); err != nil {
		r.results.error(target, "could not restore %s: %v", what, err)
		return
	}
	// Hooks are prepared on what the actions and modifiers returned: the
	// init containers Ark adds are its own, after theirs.
	var execHooks []hooks.Exec
	if t.key == podsKey {
		execHooks = r.hooks.prepare(obj, item.Namespace)
	}
	if t.key == pvsKey {
		if obj, err = r.restoreVolume(ctx, obj, what); err != nil {
			r.results.error(target, "%v", err)
			return
		}
	}

	gvr, err := createGVR(res, obj)
	if err != nil {
		r.results.error(target, "could not restore %s: %v", what, err)
		return
	}
	var client dynamic.ResourceInterface = r.opts.Dynamic.Resource(gvr)
	if target != "" {
		client = r.opts.Dynamic.Resource(gvr).Namespace(target)
	}
	// The create is not cut off by the restore's own end (a cancel): a
	// create aborted client-side may still have been done by the server,
	// and would be counted as failed while the object exists.
	createCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	created, err := client.Create(createCtx, obj, metav1.CreateOptions{})
	switch {
	case err == nil:
		r.restored.Add(1)
		r.log.Debug("restored", "item", what)
		r.warnOfClusterWideGrant(t.key, obj)
		r.restoreStatus(ctx, client, created, status, what, target)
		r.hooks.start(ctx, gvr, created, execHooks)
	case apierrors.IsAlreadyExists(err) && len(execHooks) > 0:
		r.results.warning(target, "%s already exists, left as it is (never overwritten); its restore exec hooks were not run", what)
	case apierrors.IsAlreadyExists(err):
		switch r.handleExisting(ctx, client, obj, what, target) {
		case existingUpdated:
			r.updated.Add(1)
		case existingUnchanged:
			r.unchanged.Add(1)
		}
	case apierrors.IsNotFound(err) && gvr.Version != res.GVR.Version:
		r.results.error(target, "could not create %s: this cluster does not serve version %s of %s (it serves %s): %v", what, gvr.Version, t.key, res.GVR.Version, err)
		return
	default:
		r.results.error(target, "could not create %s: %v", what, err)
		return
	}
	if t.key == crdsKey {
		r.crds.add(obj)
	}
}

// readItem reads and decodes one item, and checks that the file holds the
// object the archive's layout says it does.
func (r *restorer) readItem(item archive.Item) (*unstructured.Unstructured, error) {
	data, err := r.opts.Contents.Open(item)
	if err != nil {
		return nil, fmt.Errorf("could not read %s from the backup: %w", item, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("could not decode %s from the backup: %w", item, err)
	}
	if obj.GetName() != item.Name || (item.Namespace != "" && obj.GetNamespace() != "" && obj.GetNamespace() != item.Namespace) {
		return nil, fmt.Errorf("the backup's file for %s holds %s %s/%s instead; the backup is inconsistent, so it was not restored", item, obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
	return obj, nil
}

// describe names an item for messages: kind, target namespace and name, and
// the backed-up namespace when it was mapped.
func (r *restorer) describe(obj *unstructured.Unstructured, item archive.Item, target string) string {
	kind := obj.GetKind()
	if kind == "" {
		kind = item.Resource
	}
	switch {
	case target == "":
		return kind + " " + item.Name
	case target != item.Namespace:
		return fmt.Sprintf("%s %s/%s (backed up from namespace %s)", kind, target, item.Name, item.Namespace)
	}
	return kind + " " + target + "/" + item.Name
}

// createGVR is the resource to create obj with: the version the object was
// backed up in, since the API server refuses an object whose apiVersion
// differs from the URL's.
func createGVR(res kube.Resource, obj *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		return schema.GroupVersionResource{}, fmt.Errorf("its apiVersion %q is invalid: %w", obj.GetAPIVersion(), err)
	}
	if gv.Group != res.GVR.Group {
		return schema.GroupVersionResource{}, fmt.Errorf("its apiVersion %q is not of the API group %q of %s", obj.GetAPIVersion(), res.GVR.Group, res.GroupResource())
	}
	gvr := res.GVR
	if gv.Version != "" {
		gvr.Version = gv.Version
	}
	return gvr, nil
}

// claimIsRestored reports whether this restore restores the claim a
// persistent volume is bound to; such volumes come along when
// includeClusterResources is unset and namespaces are filtered.
func (r *restorer) claimIsRestored(pv *unstructured.Unstructured) bool {
	ns, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "namespace")
	name, _, _ := unstructured.NestedString(pv.Object, "spec", "claimRef", "name")
	if ns == "" || name == "" || !r.nsFilter.ShouldInclude(ns) || !r.resFilter.ShouldInclude(pvcsKey) {
		return false
	}
	claims := r.opts.Contents.Resources[pvcsKey]
	if claims == nil {
		return false
	}
	if !claims.Namespaces[ns].Contains(name) {
		return false
	}
	pvc, err := r.readItem(archive.Item{Resource: pvcsKey, Namespace: ns, Name: name})
	if err != nil {
		return false // reported when the claim itself is restored
	}
	_, _, owned := controllerOwner(pvc)
	return !owned && r.selector.Matches(labels.Set(pvc.GetLabels()))
}
