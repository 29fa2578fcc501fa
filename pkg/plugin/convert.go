package plugin

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// Objects cross the protocol as JSON, the encoding every Kubernetes client
// reads.

func encodeObject(obj *unstructured.Unstructured) ([]byte, error) {
	if obj == nil {
		return nil, fmt.Errorf("no object")
	}
	return json.Marshal(obj.Object)
}

func decodeObject(data []byte) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return obj, nil
}

func selectorToPB(s ResourceSelector) *pb.ResourceSelector {
	return &pb.ResourceSelector{
		IncludedNamespaces: s.IncludedNamespaces, ExcludedNamespaces: s.ExcludedNamespaces,
		IncludedResources: s.IncludedResources, ExcludedResources: s.ExcludedResources,
		LabelSelector: s.LabelSelector,
	}
}

func selectorFromPB(s *pb.ResourceSelector) ResourceSelector {
	return ResourceSelector{
		IncludedNamespaces: s.GetIncludedNamespaces(), ExcludedNamespaces: s.GetExcludedNamespaces(),
		IncludedResources: s.GetIncludedResources(), ExcludedResources: s.GetExcludedResources(),
		LabelSelector: s.GetLabelSelector(),
	}
}

func identifiersToPB(ids []ResourceIdentifier) []*pb.ResourceIdentifier {
	out := make([]*pb.ResourceIdentifier, len(ids))
	for i, id := range ids {
		out[i] = &pb.ResourceIdentifier{Group: id.GroupResource.Group, Resource: id.GroupResource.Resource, Namespace: id.Namespace, Name: id.Name}
	}
	return out
}

func identifiersFromPB(ids []*pb.ResourceIdentifier) ([]ResourceIdentifier, error) {
	out := make([]ResourceIdentifier, len(ids))
	for i, id := range ids {
		if id.GetResource() == "" || id.GetName() == "" {
			return nil, fmt.Errorf("additional item %d has no resource or no name (%q/%q)", i, id.GetResource(), id.GetName())
		}
		out[i] = ResourceIdentifier{GroupResource: schema.GroupResource{Group: id.GetGroup(), Resource: id.GetResource()}, Namespace: id.GetNamespace(), Name: id.GetName()}
	}
	return out, nil
}

// sameIdentity checks that an action returned the item it was given, not
// another one: the archive files an item under its kind, namespace and
// name, and a restore creates it under them.
func sameIdentity(in, out *unstructured.Unstructured) error {
	inGV, outGV := in.GroupVersionKind(), out.GroupVersionKind()
	switch {
	case inGV.Group != outGV.Group || inGV.Kind != outGV.Kind:
		return fmt.Errorf("returned a %s instead of the %s it was given", describeGK(outGV.GroupKind()), describeGK(inGV.GroupKind()))
	case in.GetNamespace() != out.GetNamespace() || in.GetName() != out.GetName():
		return fmt.Errorf("returned %s/%s instead of the item it was given, %s/%s (an action may change an item, not replace it)",
			out.GetNamespace(), out.GetName(), in.GetNamespace(), in.GetName())
	}
	return nil
}

func describeGK(gk schema.GroupKind) string {
	if gk.Kind == "" {
		return "object without a kind"
	}
	return gk.String()
}
