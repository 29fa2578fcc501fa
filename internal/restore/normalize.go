package restore

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// comparisonIgnoredAnnotations are written by controllers and tools, not by
// the object's owner: kubectl's copy of the last applied object (the object
// itself, again) and the Deployment controller's revision counter.
var comparisonIgnoredAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
}

// Normalize turns obj, in place, into what is left to compare of it: what a
// restore of it would create (server-managed metadata, the status, and what
// the cluster allocates - cluster IPs, node ports, node names, binding
// annotations, token volumes - removed by the restore's own preparation),
// without the label Ark puts on what it restored, the namespace (the caller
// pairs objects by it) and the annotations controllers and kubectl write.
// Two objects that normalize equal would be restored as the same object,
// whichever cluster or backup they came from. resource is the archive's
// resource name ("services", "deployments.apps").
//
// Defaulted fields are kept: an object read from the same cluster carries
// the same defaults as when it was backed up, and a field the cluster now
// defaults differently is a real difference a restore would not undo.
func Normalize(resource string, obj *unstructured.Unstructured) {
	resetMetadataAndStatus(obj)
	applyBuiltinActions(resource, obj, nil)
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return
	}
	delete(md, "namespace")
	if labels, ok := md["labels"].(map[string]any); ok {
		delete(labels, RestoreLabel)
		if resource == namespacesKey {
			// The API server sets it to the namespace's name: a namespace
			// restored under another name has another one.
			delete(labels, "kubernetes.io/metadata.name")
		}
		if len(labels) == 0 {
			delete(md, "labels")
		}
	}
	if annotations, ok := md["annotations"].(map[string]any); ok {
		for _, a := range comparisonIgnoredAnnotations {
			delete(annotations, a)
		}
		if len(annotations) == 0 {
			delete(md, "annotations")
		}
	}
}
