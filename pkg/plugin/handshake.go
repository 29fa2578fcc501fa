package plugin

import (
	"context"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the version of the protocol between the server and a
// plugin binary (pkg/plugin/proto). A change that old plugins or old servers
// cannot follow raises it; go-plugin's handshake then refuses the pair with
// a message naming both versions.
const ProtocolVersion = 1

// handshake keeps a plugin binary from being run by anything but a host of
// Ark's protocol (and says so when a user runs it by hand).
var handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ARK_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "ark.heptio.com/plugin",
}

// goPluginName is the one go-plugin "plugin" a binary serves: the gRPC
// services of every Ark plugin it holds share it.
const goPluginName = "ark"

// maxMessageSize bounds one gRPC message: a batch of items (split by the
// host at batchBytes) or one item up to the archive's largest entry.
const maxMessageSize = 128 << 20

// bridge connects go-plugin to Ark's services: on the plugin's side it
// registers them on the gRPC server; on the host's it hands back the
// connection.
type bridge struct {
	goplugin.NetRPCUnsupportedPlugin
	register func(*grpc.Server)
}

func (b *bridge) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	b.register(s)
	return nil
}

func (b *bridge) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return c, nil
}
