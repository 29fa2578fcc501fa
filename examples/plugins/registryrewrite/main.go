// Command registryrewrite is an example Ark plugin: a restore item action
// that rewrites container images by registry prefix, for a restore into a
// cluster that pulls from another registry. The rules are the data of the
// ConfigMap registry-rewrite in the Ark server's namespace, each an old
// image prefix and a new one, separated by a space (the key names the rule):
//
//	kubectl -n heptio-ark create configmap registry-rewrite \
//	  --from-literal=dockerhub='docker.io/library/ registry.example.com/mirror/'
package main

import "github.com/heptio/ark/pkg/plugin"

func main() {
	plugin.Serve(plugin.Plugins{
		Version:            "v0.1.0",
		RestoreItemActions: map[string]plugin.RestoreItemAction{"example.com/registry-rewrite": &action{}},
	})
}
