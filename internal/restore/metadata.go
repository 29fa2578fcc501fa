package restore

import (
	"crypto/sha256"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// RestoreLabel is put on every object a restore creates, with the restore's
// name as value, so that what a restore made can be listed and removed.
const RestoreLabel = "ark-restore"

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

func addRestoreLabel(obj *unstructured.Unstructured, value string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RestoreLabel] = value
	obj.SetLabels(labels)
}

// restoreLabelValue is the restore's name if it is a valid label value.
// Generated restore names (<backup>-<timestamp>) can be longer than the 63
// characters a label value allows; those are cut and given a digest suffix so
// that two long names stay distinct.
func restoreLabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:6]
	prefix := name
	if len(prefix) > validation.LabelValueMaxLength-len(suffix) {
		prefix = prefix[:validation.LabelValueMaxLength-len(suffix)]
	}
	// A label value must start with an alphanumeric character and contain
	// only [-_.A-Za-z0-9]; replace anything else so the result is valid.
	b := []byte(prefix)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	for len(b) > 0 && !isAlnum(b[0]) {
		b = b[1:]
	}
	return string(b) + suffix
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// controllerOwner returns the owner reference with controller=true, if any.
func controllerOwner(obj *unstructured.Unstructured) (kind, name string, ok bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind, ref.Name, true
		}
	}
	return "", "", false
}
