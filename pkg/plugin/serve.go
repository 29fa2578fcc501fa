package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// Plugins is what one binary serves, by name. Names have a domain prefix
// (ValidateName).
type Plugins struct {
	// Version is the binary's version, shown by `ark plugin get`.
	Version            string
	ObjectStores       map[string]ObjectStoreFactory
	BlockStores        map[string]BlockStoreFactory
	BackupItemActions  map[string]BackupItemAction
	RestoreItemActions map[string]RestoreItemAction
}

// Descriptors lists the plugins, sorted by kind and name.
func (p Plugins) Descriptors() []Descriptor {
	var out []Descriptor
	add := func(k Kind, names []string) {
		sort.Strings(names)
		for _, n := range names {
			out = append(out, Descriptor{Kind: k, Name: n})
		}
	}
	add(KindObjectStore, keys(p.ObjectStores))
	add(KindBlockStore, keys(p.BlockStores))
	add(KindBackupItemAction, keys(p.BackupItemActions))
	add(KindRestoreItemAction, keys(p.RestoreItemActions))
	return out
}

// Validate checks the names and that there is something to serve.
func (p Plugins) Validate() error {
	d := p.Descriptors()
	if len(d) == 0 {
		return fmt.Errorf("plugin.Serve: no plugins given: fill in plugin.Plugins")
	}
	for _, desc := range d {
		if err := ValidateName(desc.Name); err != nil {
			return fmt.Errorf("plugin.Serve: %s: %w", desc.Kind, err)
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Log is a logger for plugin code: JSON lines on the process's stderr,
// which the Ark server writes to its own log under the plugin's name and
// level.
var Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

// Serve serves p to the Ark server that started this binary, until the
// server stops it. It never returns; a binary run by hand (not by Ark) says
// so and exits 1, as does one with invalid plugin names.
func Serve(p Plugins) {
	if err := p.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goplugin.Serve(serveConfig(p))
	os.Exit(0)
}

func serveConfig(p Plugins) *goplugin.ServeConfig {
	return &goplugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         goplugin.PluginSet{goPluginName: &bridge{register: func(s *grpc.Server) { register(s, p) }}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize),
				grpc.ChainUnaryInterceptor(recoverUnary), grpc.ChainStreamInterceptor(recoverStream))
			return grpc.NewServer(opts...)
		},
	}
}

func register(s *grpc.Server, p Plugins) {
	pb.RegisterRegistryServer(s, &registryServer{p: p})
	pb.RegisterObjectStoreServer(s, newObjectStoreServer(p.ObjectStores))
	pb.RegisterBlockStoreServer(s, newBlockStoreServer(p.BlockStores))
	pb.RegisterBackupItemActionServer(s, &backupActionServer{actionSet: actionSet[BackupItemAction]{KindBackupItemAction, p.BackupItemActions}})
	pb.RegisterRestoreItemActionServer(s, &restoreActionServer{actionSet: actionSet[RestoreItemAction]{KindRestoreItemAction, p.RestoreItemActions}})
}

type registryServer struct {
	pb.UnimplementedRegistryServer
	p Plugins
}

func (r *registryServer) Provides(context.Context, *pb.Empty) (*pb.ProvidesResponse, error) {
	resp := &pb.ProvidesResponse{Version: r.p.Version}
	for _, d := range r.p.Descriptors() {
		resp.Plugins = append(resp.Plugins, &pb.Descriptor{Kind: string(d.Kind), Name: d.Name})
	}
	return resp, nil
}

// recoverUnary and recoverStream turn a panic in a store's code into the
// error of that one call, logged with its stack: the process, and every
// other call it serves, live on.
func recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			Log.Error("panic in "+info.FullMethod, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = toStatus(panicError(v))
		}
	}()
	return handler(ctx, req)
}

func recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			Log.Error("panic in "+info.FullMethod, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = toStatus(panicError(v))
		}
	}()
	return handler(srv, ss)
}
