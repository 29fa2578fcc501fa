package main

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rules map an image prefix of the old cluster's registry to the new one's:
// "docker.io/library/" -> "registry.example.com/mirror/". The longest
// matching prefix wins.
type rules map[string]string

// podSpecPaths are where each workload keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// rewrite changes the images of obj's containers in place and describes
// each change.
func (r rules) rewrite(obj *unstructured.Unstructured) []string {
	path, ok := podSpecPaths[obj.GetKind()]
	if !ok || len(r) == 0 {
		return nil
	}
	spec, found, _ := unstructured.NestedMap(obj.Object, path...)
	if !found {
		return nil
	}
	prefixes := make([]string, 0, len(r))
	for p := range r {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	var changes []string
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		containers, _ := spec[field].([]any)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			image, _ := container["image"].(string)
			for _, p := range prefixes {
				if strings.HasPrefix(image, p) {
					container["image"] = r[p] + strings.TrimPrefix(image, p)
					changes = append(changes, image+" -> "+container["image"].(string))
					break
				}
			}
		}
	}
	if len(changes) > 0 {
		_ = unstructured.SetNestedMap(obj.Object, spec, path...)
	}
	return changes
}
