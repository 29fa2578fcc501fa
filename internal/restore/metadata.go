package restore

import (
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
)

// RestoreLabel is put on every object a restore creates, with the restore's
// name as value, so that what a restore made can be listed and removed.
const RestoreLabel = arkv1.RestoreNameLabel

// serverOwnedMetadata is what the API server sets on an object; a create that
// carries it is refused or misleading in the new cluster.
//
// ownerReferences go too, controller or not: they hold the owners' old UIDs,
// and the garbage collector deletes an object whose owners are all missing,
// which a restored owner (new UID) is. Objects with a controller owner are
// not restored at all (the owner recreates them).
var serverOwnedMetadata = []string{
	"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "managedFields", "generation", "selfLink",
	"ownerReferences", "generateName",
}

// resetMetadataAndStatus turns a backed-up object into one that can be
// created: server-set metadata and the status go; name, labels, annotations
// and finalizers stay.
func resetMetadataAndStatus(obj *unstructured.Unstructured) {
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		for _, field := range serverOwnedMetadata {
			delete(md, field)
		}
	}
	delete(obj.Object, "status")
}

// addRestoreLabel marks obj as made by the restore named restore: the
// ark-restore label, and the full name in an annotation when the label
// value had to be shortened (arkv1.RestoreLabels).
func addRestoreLabel(obj *unstructured.Unstructured, restore string) {
	add, annotate := arkv1.RestoreLabels(restore)
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, add)
	obj.SetLabels(labels)
	if len(annotate) > 0 {
		annotations := obj.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		maps.Copy(annotations, annotate)
		obj.SetAnnotations(annotations)
	}
}

// restoreLabelValue is the ark-restore label value of a restore's objects:
// the restore's name when it is a valid label value, else a shortened,
// hashed form (arkv1.LabelValue), so that two long names stay distinct.
func restoreLabelValue(name string) string { return arkv1.LabelValue(name) }

// controllerOwner returns the owner reference with controller=true, if any.
func controllerOwner(obj *unstructured.Unstructured) (kind, name string, ok bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind, ref.Name, true
		}
	}
	return "", "", false
}
