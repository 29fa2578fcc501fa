package restore

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/archive"
)

var namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// namespaceCreator creates each target namespace once, before the first item
// that goes into it, however many workers ask at the same time.
type namespaceCreator struct {
	r *restorer

	mu   sync.Mutex
	done map[string]*namespaceOnce
}

type namespaceOnce struct {
	once sync.Once
	err  error
}

// ensure makes sure the target namespace exists. It is created from the
// backed-up Namespace of source when the archive has it (labels, annotations
// and spec kept), else blank. An existing namespace is used as it is. A
// failure is reported once; every later call returns it again so that the
// namespace's items are skipped.
func (c *namespaceCreator) ensure(ctx context.Context, target, source string) error {
	c.mu.Lock()
	if c.done == nil {
		c.done = map[string]*namespaceOnce{}
	}
	st := c.done[target]
	if st == nil {
		st = &namespaceOnce{}
		c.done[target] = st
	}
	c.mu.Unlock()

	st.once.Do(func() {
		st.err = c.create(ctx, target, source)
		if st.err != nil {
			c.r.results.error(target, "namespace %s could not be created, so none of its items were restored: %v", target, st.err)
		}
	})
	return st.err
}

func (c *namespaceCreator) create(ctx context.Context, target, source string) error {
	ns, err := c.backedUpNamespace(source)
	if err != nil {
		return err
	}
	ns.SetName(target)
	addRestoreLabel(ns, c.r.opts.Restore.Name)
	if c.r.preview != nil {
		return c.r.preview.namespace(ctx, ns, target, c.inBackup(source))
	}

	client := c.r.opts.Dynamic.Resource(namespacesGVR)
	_, err = client.Create(ctx, ns, metav1.CreateOptions{})
	if err == nil {
		c.r.log.Info("created namespace", "namespace", target, "fromBackup", source)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing, getErr := client.Get(ctx, target, metav1.GetOptions{})
	if getErr == nil && existing.GetDeletionTimestamp() != nil {
		return fmt.Errorf("it is being deleted; wait until it is gone (kubectl get namespace %s), then restore again, or map it to another namespace with namespaceMapping", target)
	}
	return nil
}

func (c *namespaceCreator) backedUpNamespace(source string) (*unstructured.Unstructured, error) {
	blank := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{}}}
	items := c.r.opts.Contents.Resources[namespacesKey]
	if items == nil {
		return blank, nil
	}
	if !items.Cluster.Contains(source) {
		return blank, nil
	}
	obj, err := c.r.readItem(archive.Item{Resource: namespacesKey, Name: source})
	if err != nil {
		return nil, err
	}
	resetMetadataAndStatus(obj)
	return obj, nil
}

// inBackup reports whether the archive has the Namespace object of source.
func (c *namespaceCreator) inBackup(source string) bool {
	items := c.r.opts.Contents.Resources[namespacesKey]
	return items != nil && items.Cluster.Contains(source)
}
