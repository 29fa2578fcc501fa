package backupdiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/kube"
)

const namespacesResource = "namespaces"

// ClusterOptions are the inputs of a comparison with the live cluster.
type ClusterOptions struct {
	Options
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	// PageSize is the LIST page size; 0 means DefaultPageSize.
	PageSize int64
	// IncludeNew also lists the live objects in the backup's scope
	// (BackupScope) that the backup lacks. It reads every resource the
	// backup covers, as a backup would.
	IncludeNew  bool
	BackupScope *backup.Scope
	// First names the backup, for the report.
	First string
}

// AgainstCluster compares the backup archive r with the live cluster.
func AgainstCluster(ctx context.Context, r io.Reader, opts ClusterOptions) (*Report, error) {
	if opts.Scope == nil || opts.Discovery == nil || opts.Dynamic == nil || (opts.IncludeNew && opts.BackupScope == nil) {
		return nil, errors.New("backupdiff: ClusterOptions needs Scope, Discovery, Dynamic, and BackupScope with IncludeNew")
	}
	d := &liveDiff{opts: opts, rep: newReporter(opts.Details), open: map[schema.GroupResource]*openCursor{}, done: map[groupKey]bool{}}
	for _, u := range opts.Scope.Unmatched {
		d.rep.note("%s resource %q matches nothing in the cluster or the backup: %v", u.List(), u.Name, u.Err)
	}
	ar, err := archive.NewReader(r, opts.Limits)
	if err != nil {
		return nil, err
	}
	for {
		item, data, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := d.item(ctx, item, data); err != nil {
			return nil, err
		}
	}
	if note := ar.Format().Unverified(); note != "" {
		d.rep.note("%s", note)
	}
	for gr := range d.open {
		if err := d.close(ctx, gr); err != nil {
			return nil, err
		}
	}
	if opts.IncludeNew {
		if err := d.findNew(ctx); err != nil {
			return nil, err
		}
	}
	if d.outOfOrder > 0 {
		d.rep.note("%d items were not in the order the cluster lists them and were looked up one by one", d.outOfOrder)
	}
	return d.rep.report(opts.First, "the cluster", opts.IncludeNew), nil
}

type groupKey struct {
	gr        schema.GroupResource
	namespace string // the live (target) namespace; "" for cluster-scoped
}

// openCursor is the cursor of the group a resource's archive items are in.
type openCursor struct {
	key groupKey
	gvr schema.GroupVersionResource
	c   *cursor
}

type liveDiff struct {
	opts ClusterOptions
	rep  *reporter
	// open holds at most one cursor per resource: the archive holds a
	// resource's items namespace by namespace, so moving to the next
	// namespace finishes the previous one.
	open map[schema.GroupResource]*openCursor
	// done are the groups whose cursor ran to the end: their every live
	// object was seen. An item of one of them comes out of order.
	done       map[groupKey]bool
	outOfOrder int
}

func (d *liveDiff) item(ctx context.Context, item archive.Item, data []byte) error {
	if item.Version != "" {
		return nil // another version's copy of an object compared once
	}
	obj, err := decode(item, data)
	if err != nil {
		d.rep.add(Item{Status: Error, Resource: item.Resource, Namespace: item.Namespace, Name: item.Name, Reason: err.Error()})
		return nil
	}
	if ok, _ := d.opts.Scope.Item(item.Resource, item.Namespace, obj); !ok {
		d.rep.skip(item.Resource)
		return nil
	}
	it := Item{Resource: item.Resource, Name: item.Name}
	if item.Namespace != "" {
		it.Namespace = d.opts.Scope.TargetNamespace(item.Namespace)
		if it.Namespace != item.Namespace {
			it.BackedUpNamespace = item.Namespace
		}
	} else if item.Resource == namespacesResource {
		it.Name = d.opts.Scope.TargetNamespace(item.Name)
	}
	gr := schema.ParseGroupResource(item.Resource)
	res, served := d.opts.Discovery.ForGroupResource(gr)
	if !served {
		it.Status, it.Reason = Gone, fmt.Sprintf("the cluster does not serve %s (its API group or CustomResourceDefinition is gone)", gr)
		d.rep.add(it)
		return nil
	}
	gvr := d.versionOf(res, obj)
	key := groupKey{gr: gr, namespace: it.Namespace}
	live, err := d.lookup(ctx, res, gvr, key, it)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		it.Status, it.Reason = Error, fmt.Sprintf("could not read it from the cluster: %v", err)
		d.rep.add(it)
		return nil
	}
	if live == nil {
		it.Status = Gone
		d.rep.add(it)
		return nil
	}
	d.rep.compared(it, normalized(item.Resource, obj), normalized(item.Resource, live))
	return nil
}

// versionOf is the version to read the live object in: the backed-up one's
// when the cluster still serves it, so that both have the same fields; else
// the cluster's preferred version.
func (d *liveDiff) versionOf(res kube.Resource, obj *unstructured.Unstructured) schema.GroupVersionResource {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err == nil && gv.Group == res.GVR.Group && slices.Contains(d.opts.Discovery.Versions(res.GroupResource()), gv.Version) {
		return res.GVR.GroupResource().WithVersion(gv.Version)
	}
	d.rep.note("%s: the backup holds apiVersion %s, which the cluster no longer serves; compared with version %s, whose fields may differ", res.GroupResource(), obj.GetAPIVersion(), res.GVR.Version)
	return res.GVR
}

// lookup finds the live object of an item: through the cursor of its group
// when the archive is in order, else with a GET. nil, nil means there is none.
func (d *liveDiff) lookup(ctx context.Context, res kube.Resource, gvr schema.GroupVersionResource, key groupKey, it Item) (*unstructured.Unstructured, error) {
	oc := d.open[key.gr]
	if oc != nil && (oc.key != key || oc.gvr != gvr) {
		if err := d.close(ctx, key.gr); err != nil {
			return nil, err
		}
		oc = nil
	}
	if oc == nil && !d.done[key] {
		oc = &openCursor{key: key, gvr: gvr, c: newCursor(d.client(res, gvr, key.namespace), d.opts.PageSize)}
		d.open[key.gr] = oc
	}
	if oc == nil || it.Name <= oc.c.last {
		d.outOfOrder++
		live, err := d.get(ctx, res, gvr, key.namespace, it.Name)
		if live != nil {
			d.rep.retractNew(it.Resource, it.Namespace, it.Name)
		}
		return live, err
	}
	live, err := oc.c.seek(ctx, it.Name, func(obj *unstructured.Unstructured) { d.passed(it.Resource, it.BackedUpNamespace, obj) })
	if err != nil || live != nil {
		return live, err
	}
	// Not in the list: confirm with a GET, so that a list out of name order
	// can never make an object look gone (nor, once found, new).
	live, err = d.get(ctx, res, gvr, key.namespace, it.Name)
	if live != nil {
		oc.c.found(it.Name)
	}
	return live, err
}

func (d *liveDiff) client(res kube.Resource, gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	c := d.opts.Dynamic.Resource(gvr)
	if res.Namespaced {
		return c.Namespace(namespace)
	}
	return c
}

func (d *liveDiff) get(ctx context.Context, res kube.Resource, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	live, err := d.client(res, gvr, namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return live, err
}

// close finishes the open cursor of a resource: its remaining live objects
// are not in the backup.
func (d *liveDiff) close(ctx context.Context, gr schema.GroupResource) error {
	oc := d.open[gr]
	delete(d.open, gr)
	if oc == nil {
		return nil
	}
	resource := gr.String()
	err := oc.c.drain(ctx, func(obj *unstructured.Unstructured) { d.passed(resource, "", obj) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.rep.note("listing %s in %s failed, so objects the backup lacks may be missing from this report: %v", resource, namespaceOrCluster(oc.key.namespace), err)
		return nil
	}
	d.done[oc.key] = true
	return nil
}

func namespaceOrCluster(ns string) string {
	if ns == "" {
		return "the cluster"
	}
	return "namespace " + ns
}

// passed is a live object a cursor went past: the backup does not have it.
// It is reported New when asked for and in the backup's scope.
func (d *liveDiff) passed(resource, backedUpNamespace string, obj *unstructured.Unstructured) {
	if !d.opts.IncludeNew || !d.inBackupScope(resource, obj) {
		return
	}
	d.rep.add(Item{Status: New, Resource: resource, Namespace: obj.GetNamespace(), BackedUpNamespace: backedUpNamespace, Name: obj.GetName()})
}

// inBackupScope reports whether a live object is one the backup would have
// taken and the restore would restore: it is new if the backup lacks it.
func (d *liveDiff) inBackupScope(resource string, obj *unstructured.Unstructured) bool {
	source := d.sourceNamespace(obj.GetNamespace())
	if resource == namespacesResource {
		source = d.sourceNamespace(obj.GetName())
		if source == "" || !d.opts.BackupScope.Namespace(source) {
			return false
		}
	} else if obj.GetNamespace() != "" && (source == "" || !d.opts.BackupScope.Namespace(source)) {
		return false
	}
	if !d.opts.BackupScope.Object(obj) {
		return false
	}
	ok, _ := d.opts.Scope.Item(resource, source, obj)
	return ok
}

// sourceNamespace is the backed-up namespace whose items a restore puts in
// the live namespace ns, or "" when it puts none there (ns is mapped away).
func (d *liveDiff) sourceNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return d.opts.Scope.SourceNamespace(ns)
}

// findNew lists, for every resource the backup covers, the groups no
// cursor went through: everything in them is new.
func (d *liveDiff) findNew(ctx context.Context) error {
	for _, res := range d.opts.Discovery.Resources() {
		resource := res.GroupResource().String()
		covered := d.opts.BackupScope.Resource(res) || resource == namespacesResource
		if !covered || !d.opts.Scope.Resource(resource) {
			continue
		}
		var targets []string
		switch {
		case !res.Namespaced:
			if d.done[groupKey{gr: res.GroupResource()}] {
				continue
			}
			targets = []string{""}
		case d.opts.BackupScope.ExplicitNamespaces() != nil:
			for _, src := range d.opts.BackupScope.ExplicitNamespaces() {
				targets = append(targets, d.opts.Scope.TargetNamespace(src))
			}
		default:
			targets = []string{metav1.NamespaceAll}
		}
		for _, ns := range targets {
			if ns != "" && d.done[groupKey{gr: res.GroupResource(), namespace: ns}] {
				continue
			}
			c := newCursor(d.client(res, res.GVR, ns), d.opts.PageSize)
			err := c.drain(ctx, func(obj *unstructured.Unstructured) {
				if res.Namespaced && d.done[groupKey{gr: res.GroupResource(), namespace: obj.GetNamespace()}] {
					return
				}
				d.passed(resource, "", obj)
			})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				d.rep.note("listing %s in %s failed, so objects the backup lacks may be missing from this report: %v", resource, namespaceOrCluster(ns), err)
			}
		}
	}
	return nil
}
