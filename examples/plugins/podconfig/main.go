// Command podconfig is an example Ark plugin: a backup item action that
// adds the ConfigMaps and Secrets a pod uses (volumes, projected volumes,
// env and envFrom) to the backup as additional items (see action.go).
package main

import "github.com/heptio/ark/pkg/plugin"

func main() {
	plugin.Serve(plugin.Plugins{
		Version:           "v0.1.0",
		BackupItemActions: map[string]plugin.BackupItemAction{"example.com/pod-config": action{}},
	})
}
