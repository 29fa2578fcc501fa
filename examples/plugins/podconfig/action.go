package main

import (
	"context"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
)

var (
	configMaps = schema.GroupResource{Resource: "configmaps"}
	secrets    = schema.GroupResource{Resource: "secrets"}
)

// action backs up, with each pod, the ConfigMaps and Secrets it mounts or
// reads its environment from, so that a backup selected by the pod's labels
// restores a pod that can start.
type action struct{}

func (action) AppliesTo() (plugin.ResourceSelector, error) {
	return plugin.ResourceSelector{IncludedResources: []string{"pods"}}, nil
}

func (action) Execute(_ context.Context, pod *unstructured.Unstructured, _ *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	return pod, referencedConfig(pod), nil
}

// referencedConfig lists the ConfigMaps and Secrets of the pod's namespace
// that its volumes (plain and projected) and its containers' env and envFrom
// name, sorted, each once.
func referencedConfig(pod *unstructured.Unstructured) []plugin.ResourceIdentifier {
	found := map[plugin.ResourceIdentifier]bool{}
	add := func(gr schema.GroupResource, name any) {
		if n, ok := name.(string); ok && n != "" {
			found[plugin.ResourceIdentifier{GroupResource: gr, Namespace: pod.GetNamespace(), Name: n}] = true
		}
	}
	volumes, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	for _, v := range volumes {
		vol, _ := v.(map[string]any)
		if cm, ok := vol["configMap"].(map[string]any); ok {
			add(configMaps, cm["name"])
		}
		if s, ok := vol["secret"].(map[string]any); ok {
			add(secrets, s["secretName"])
		}
		projected, _ := vol["projected"].(map[string]any)
		sources, _ := projected["sources"].([]any)
		for _, src := range sources {
			source, _ := src.(map[string]any)
			if cm, ok := source["configMap"].(map[string]any); ok {
				add(configMaps, cm["name"])
			}
			if s, ok := source["secret"].(map[string]any); ok {
				add(secrets, s["name"])
			}
		}
	}
	for _, field := range []string{"initContainers", "containers"} {
		containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", field)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			envFrom, _ := container["envFrom"].([]any)
			for _, e := range envFrom {
				from, _ := e.(map[string]any)
				if ref, ok := from["configMapRef"].(map[string]any); ok {
					add(configMaps, ref["name"])
				}
				if ref, ok := from["secretRef"].(map[string]any); ok {
					add(secrets, ref["name"])
				}
			}
			env, _ := container["env"].([]any)
			for _, e := range env {
				variable, _ := e.(map[string]any)
				valueFrom, _ := variable["valueFrom"].(map[string]any)
				if ref, ok := valueFrom["configMapKeyRef"].(map[string]any); ok {
					add(configMaps, ref["name"])
				}
				if ref, ok := valueFrom["secretKeyRef"].(map[string]any); ok {
					add(secrets, ref["name"])
				}
			}
		}
	}
	out := make([]plugin.ResourceIdentifier, 0, len(found))
	for id := range found {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GroupResource != out[j].GroupResource {
			return out[i].GroupResource.Resource < out[j].GroupResource.Resource
		}
		return out[i].Name < out[j].Name
	})
	return out
}
