package hooks

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pod is what hooks need of a pod: where it is, its labels and annotations
// (to select and read hooks), its containers (the default container) and
// its phase (hooks run only in Running pods).
type Pod struct {
	Namespace, Name string
	Labels          map[string]string
	Annotations     map[string]string
	// Containers are the names of the pod's containers, in order.
	Containers []string
	Phase      string
}

// PodFromUnstructured reads a Pod from the object the engines handle.
func PodFromUnstructured(u *unstructured.Unstructured) Pod {
	p := Pod{
		Namespace:   u.GetNamespace(),
		Name:        u.GetName(),
		Labels:      u.GetLabels(),
		Annotations: u.GetAnnotations(),
	}
	p.Phase, _, _ = unstructured.NestedString(u.Object, "status", "phase")
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "containers")
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				p.Containers = append(p.Containers, name)
			}
		}
	}
	return p
}

// String is namespace/name, as messages name a pod.
func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// container resolves a hook's container: the named one, which must be in
// the pod, or the pod's first.
func (p Pod) container(name string) (string, error) {
	if len(p.Containers) == 0 {
		return "", fmt.Errorf("pod %s has no containers", p)
	}
	if name == "" {
		return p.Containers[0], nil
	}
	for _, c := range p.Containers {
		if c == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("container %q is not in pod %s (it has %q): name one of those, or leave the container out to use the first", name, p, p.Containers)
}
