// Command registryrewrite is an example Ark plugin: a restore item action
// that rewrites container images by registry prefix, for a restore into a
// cluster that pulls from another registry. The prefixes are the data of
// the ConfigMap registry-rewrite in the Ark server's namespace:
//
//	kubectl -n heptio-ark create configmap registry-rewrite \
//	  --from-literal=docker.io/library/=registry.example.com/mirror/
package main

import "github.com/heptio/ark/pkg/plugin"

func main() {
	plugin.Serve(plugin.Plugins{
		Version:            "v0.1.0",
		RestoreItemActions: map[string]plugin.RestoreItemAction{"example.com/registry-rewrite": &action{}},
	})
}
