package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/examples"
)

// UninstallOptions are what `ark uninstall` takes from its flags.
type UninstallOptions struct {
	Namespace string
	// CRDs removes the CustomResourceDefinitions too, and with them every
	// Ark object in every namespace (not the backups in object storage).
	CRDs bool
	// Wait is how long to wait for the namespace (and CRDs) to be gone;
	// 0 returns once the deletions are requested.
	Wait time.Duration
}

// ownedLabel marks what `ark install` and the examples create, so that
// uninstall deletes a namespace only when Ark created it.
const ownedLabel = "component"

// StorageLabel marks the example objects that hold backups (the in-cluster
// MinIO, the directory store's claim): uninstall never deletes them, nor a
// namespace that holds them.
const StorageLabel = "ark.heptio.com/storage"

// Uninstall deletes what the examples create: the Deployment first (so no
// server acts while the rest goes), then the cluster-wide RBAC, then the
// namespace when Ark created it (else Ark's objects in it one by one), and
// with CRDs the CustomResourceDefinitions. It never deletes backup data: the
// storage the examples create (StorageLabel) is kept, no server runs while
// Backups are deleted, and Ark puts no finalizers on them;
// the legacy gc.ark.heptio.com finalizer of Ark v0.7, which would hold the
// namespace forever with no server left to remove it, is removed first.
func Uninstall(ctx context.Context, c client.Client, opts UninstallOptions, out io.Writer) error {
	ns := opts.Namespace
	if ns == "" {
		ns = arkv1.DefaultNamespace
	}
	manifests, err := allExampleObjects()
	if err != nil {
		return err
	}
	for _, o := range manifests {
		renameNamespace(o, ns)
	}

	// The server first.
	for _, o := range manifests {
		if o.GetKind() == "Deployment" && o.GetName() == deploymentName {
			if err := deleteOne(ctx, c, o, out); err != nil {
				return err
			}
			break
		}
	}

	finalizerNamespace := ns
	if opts.CRDs {
		finalizerNamespace = "" // every namespace: the CRDs take every Backup with them
	}
	if err := removeLegacyFinalizers(ctx, c, finalizerNamespace, out); err != nil {
		return err
	}

	nsExists, deleteNamespace, err := createdByArk(ctx, c, ns)
	if err != nil {
		return err
	}
	storage, err := presentStorage(ctx, c, manifests)
	if err != nil {
		return err
	}
	for _, o := range storage {
		fmt.Fprintf(out, "%s: kept, it holds backups (delete it with 'kubectl -n %s delete %s %s' when you no longer need them)\n",
			describe(o), ns, strings.ToLower(o.GetKind()), o.GetName())
	}
	if len(storage) > 0 && deleteNamespace {
		fmt.Fprintf(out, "Namespace/%s: kept, it holds the storage above; Ark's objects in it are deleted one by one\n", ns)
		deleteNamespace = false
	} else if nsExists && !deleteNamespace {
		fmt.Fprintf(out, "Namespace/%s: kept (Ark did not create it); Ark's objects in it are deleted one by one\n", ns)
	}
	var waitFor []*unstructured.Unstructured
	for _, o := range manifests {
		switch {
		case isStorage(o):
			continue
		case o.GetKind() == "CustomResourceDefinition":
			if !opts.CRDs {
				continue
			}
			if err := waitServed(ctx, c, o); err != nil {
				return err
			}
		case o.GetKind() == "Namespace":
			if !deleteNamespace {
				continue
			}
		case o.GetNamespace() != "" && deleteNamespace:
			continue // goes with the namespace
		}
		if err := deleteOne(ctx, c, o, out); err != nil {
			return err
		}
		if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
			waitFor = append(waitFor, o)
		}
	}
	if opts.Wait <= 0 {
		fmt.Fprintln(out, "Deletion requested (not waiting); the backups in object storage are untouched.")
		return nil
	}
	if err := waitGone(ctx, c, waitFor, opts.Wait); err != nil {
		return err
	}
	fmt.Fprintln(out, "Ark is uninstalled; the backups in object storage are untouched.")
	return nil
}

// allExampleObjects are the objects of every example but the nginx app,
// without duplicates (the Deployment ark is in several files).
func allExampleObjects() ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" || strings.HasPrefix(p, "nginx-app/") {
			return err
		}
		decoded, err := decodeFile(p)
		if err != nil {
			return err
		}
		for _, o := range decoded {
			key := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
			if !seen[key] {
				seen[key] = true
				objs = append(objs, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Namespaced objects, then cluster-wide ones, the namespace and the
	// CRDs last: what holds data goes last.
	rank := func(o *unstructured.Unstructured) int {
		switch {
		case o.GetKind() == "CustomResourceDefinition":
			return 3
		case o.GetKind() == "Namespace":
			return 2
		case o.GetNamespace() == "":
			return 1
		}
		return 0
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return objs, nil
}

func isStorage(o *unstructured.Unstructured) bool { return o.GetLabels()[StorageLabel] == "true" }

// presentStorage lists the storage objects of the examples that exist.
func presentStorage(ctx context.Context, c client.Client, manifests []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var present []*unstructured.Unstructured
	for _, o := range manifests {
		if !isStorage(o) {
			continue
		}
		probe := &unstructured.Unstructured{}
		probe.SetGroupVersionKind(o.GroupVersionKind())
		err := c.Get(ctx, client.ObjectKeyFromObject(o), probe)
		switch {
		case err == nil:
			present = append(present, o)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading %s: %w", describe(o), err)
		}
	}
	return present, nil
}

// waitServed waits until the custom resources of a CRD about to be deleted
// can be listed. The API server's CRD finalizer lists them once and, when
// their storage is still initializing (a CRD created moments ago), backs
// off for minutes: the CRD would stay Terminating long after uninstall.
func waitServed(ctx context.Context, c client.Client, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		return nil
	}
	version, _ := versions[0].(map[string]any)["name"].(string)
	var lastErr error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, requestTimeout, true, func(ctx context.Context) (bool, error) {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
		lastErr = c.List(ctx, list, client.Limit(1))
		if meta.IsNoMatchError(lastErr) || apierrors.IsNotFound(lastErr) {
			return true, nil // not installed: nothing to wait for
		}
		return lastErr == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the API server does not list %s.%s (%v): try again in a minute", kind, group, lastErr)
	}
	return nil
}

// createdByArk reports whether the namespace exists and whether it carries
// the examples' label.
func createdByArk(ctx context.Context, c client.Client, ns string) (exists, owned bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var namespace corev1.Namespace
	err = c.Get(ctx, client.ObjectKey{Name: ns}, &namespace)
	if apierrors.IsNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return true, namespace.Labels[ownedLabel] == "ark", nil
}

func deleteOne(ctx context.Context, c client.Client, o *unstructured.Unstructured, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err := c.Delete(ctx, o.DeepCopy(), client.PropagationPolicy(metav1.DeletePropagationBackground))
	switch {
	case err == nil:
		fmt.Fprintf(out, "%s: deleted\n", describe(o))
	case apierrors.IsNotFound(err), meta.IsNoMatchError(err):
		// Already gone (or its CRD is): uninstall can run twice.
	default:
		return fmt.Errorf("deleting %s: %w", describe(o), err)
	}
	return nil
}

// removeLegacyFinalizers takes gc.ark.heptio.com off the Backups in ns (all
// namespaces when ns is ""), as docs/troubleshooting.md does by hand.
func removeLegacyFinalizers(ctx context.Context, c client.Client, ns string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var backups arkv1.BackupList
	err := c.List(ctx, &backups, client.InNamespace(ns))
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
		return nil // no CRDs, no Backups
	}
	if err != nil {
		return fmt.Errorf("listing Backups: %w", err)
	}
	for i := range backups.Items {
		b := &backups.Items[i]
		if !slices.Contains(b.Finalizers, arkv1.LegacyGCFinalizer) {
			continue
		}
		orig := b.DeepCopy()
		b.Finalizers = slices.DeleteFunc(b.Finalizers, func(f string) bool { return f == arkv1.LegacyGCFinalizer })
		if err := c.Patch(ctx, b, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing the finalizer %s from Backup %s/%s: %w", arkv1.LegacyGCFinalizer, b.Namespace, b.Name, err)
		}
		fmt.Fprintf(out, "Backup/%s (namespace %s): removed the legacy finalizer %s\n", b.Name, b.Namespace, arkv1.LegacyGCFinalizer)
	}
	return nil
}

// waitGone waits until the namespace and CRDs are gone, at most timeout,
// and then says what is holding them rather than waiting on.
func waitGone(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, timeout time.Duration) error {
	if len(objs) == 0 {
		return nil
	}
	var remaining []*unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		remaining = remaining[:0]
		for _, o := range objs {
			probe := &unstructured.Unstructured{}
			probe.SetGroupVersionKind(o.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKeyFromObject(o), probe)
			if err == nil || !apierrors.IsNotFound(err) {
				remaining = append(remaining, o)
			}
		}
		return len(remaining) == 0, nil
	})
	if err == nil {
		return nil
	}
	var why []string
	for _, o := range remaining {
		why = append(why, holdUp(ctx, c, o))
	}
	return fmt.Errorf("still deleting after %s (uninstall does not wait longer): %s", timeout, strings.Join(why, "; "))
}

// holdUp says what keeps an object from going away: the namespace's
// deletion conditions, or the object's finalizers.
func holdUp(ctx context.Context, c client.Client, o *unstructured.Unstructured) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	name := describe(o)
	if o.GetKind() == "Namespace" {
		var ns corev1.Namespace
		if err := c.Get(ctx, client.ObjectKey{Name: o.GetName()}, &ns); err == nil {
			var msgs []string
			for _, cond := range ns.Status.Conditions {
				if cond.Status == corev1.ConditionTrue && cond.Message != "" {
					msgs = append(msgs, cond.Message)
				}
			}
			if len(msgs) > 0 {
				return fmt.Sprintf("%s is terminating: %s (see 'kubectl get namespace %s -o yaml')", name, strings.Join(msgs, "; "), o.GetName())
			}
		}
		return fmt.Sprintf("%s is terminating; see what remains with 'kubectl api-resources --verbs=list --namespaced -o name | xargs -n1 kubectl get -n %s'", name, o.GetName())
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: o.GetName()}, &crd); err == nil && len(crd.Finalizers) > 0 {
		return fmt.Sprintf("%s has finalizers %v: its custom resources are still being deleted (see 'kubectl get %s -A')",
			name, crd.Finalizers, crd.Spec.Names.Plural+"."+crd.Spec.Group)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return name + ": the API server did not answer"
	}
	return name + " is still there"
}
