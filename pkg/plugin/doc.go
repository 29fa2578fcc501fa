// Package plugin is Ark's public plugin SDK: the interfaces a storage
// provider or an item action implements (ObjectStore, BlockStore,
// BackupItemAction, RestoreItemAction), Serve, which makes a binary serve
// them to the Ark server, and Start, which runs such a binary the way the
// server does (the server uses it, and so does the test kit in plugintest).
//
// The built-in providers implement the same interfaces: a plugin is held to
// exactly what Ark asks of its own stores.
//
// A plugin binary speaks ProtocolVersion over gRPC (github.com/hashicorp/go-plugin),
// with the messages of pkg/plugin/proto. One binary may serve several
// plugins; each has a kind and a name with a domain prefix
// ("example.com/mystore"), so no plugin can take the name of a built-in one.
//
// A plugin's main is a few lines:
//
//	func main() {
//		plugin.Serve(plugin.Plugins{
//			ObjectStores: map[string]plugin.ObjectStoreFactory{
//				"example.com/dirstore": dirstore.New,
//			},
//		})
//	}
//
// See docs/plugins.md for writing, testing, packaging and installing one.
package plugin
