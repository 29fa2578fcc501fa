package restore

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// restoresStatus reports whether the status of the archive resource key is
// restored (spec.restoreStatus).
func (r *restorer) restoresStatus(key string) bool {
	return r.statusFilter != nil && r.statusFilter.ShouldInclude(key)
}

// restoreStatus writes the backed-up status of an object the restore just
// created, through its status subresource: the create itself drops status
// (the API server ignores it for resources with a status subresource), and
// some controllers of custom resources need it back. A failure is a warning:
// the object itself is restored.
func (r *restorer) restoreStatus(ctx context.Context, client dynamic.ResourceInterface, created *unstructured.Unstructured, status any, what, target string) {
	if status == nil {
		return
	}
	created = created.DeepCopy()
	created.Object["status"] = status
	_, err := client.UpdateStatus(ctx, created, metav1.UpdateOptions{FieldManager: fieldManager})
	switch {
	case err == nil:
		r.log.Debug("status restored", "item", what)
	case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
		r.results.warning(target, "the status of %s was not restored: its resource has no status subresource", what)
	default:
		r.results.warning(target, "the status of %s was not restored: %v", what, err)
	}
}
