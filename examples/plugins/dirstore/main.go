// Command dirstore is an example Ark plugin: an object store that keeps
// backups in a directory, each object in one flat file (see store.go).
//
//	backupStorageProvider:
//	  name: example.com/dirstore
//	  bucket: backups            # the directory <root>/backups must exist
//	  config:
//	    root: /var/lib/ark-dirstore
package main

import "github.com/heptio/ark/pkg/plugin"

func main() {
	plugin.Serve(plugin.Plugins{
		Version:      "v0.1.0",
		ObjectStores: map[string]plugin.ObjectStoreFactory{"example.com/dirstore": newStore},
	})
}
