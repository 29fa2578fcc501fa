package plugin

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// instance is a store the plugin process built for a name and config. The
// host builds it again in a restarted process before the next call.
type instance struct {
	c      *Client
	kind   Kind
	name   string
	config map[string]string
	init   func(context.Context, *grpc.ClientConn, *pb.InitRequest) (*pb.InitResponse, error)

	mu  sync.Mutex
	id  string
	gen uint64
}

// ensure returns the connection and the instance ID valid on it.
func (s *instance) ensure(ctx context.Context) (*grpc.ClientConn, uint64, string, error) {
	conn, gen, err := s.c.connect()
	if err != nil {
		return nil, 0, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen && s.id != "" {
		return conn, gen, s.id, nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
	defer cancel()
	resp, err := s.init(cctx, conn, &pb.InitRequest{Name: s.name, Config: s.config})
	if err := s.c.callError(ctx, gen, err, false); err != nil {
		return nil, 0, "", err
	}
	s.id, s.gen = resp.GetInstance(), gen
	return conn, gen, s.id, nil
}

// unary runs one call on the instance with the call timeout.
func (s *instance) unary(ctx context.Context, call func(context.Context, *grpc.ClientConn, string) error) error {
	conn, gen, id, err := s.ensure(ctx)
	if err != nil {
		return s.wrap(err)
	}
	cctx, cancel := context.WithTimeout(ctx, s.c.opts.CallTimeout)
	defer cancel()
	return s.wrap(s.c.callError(ctx, gen, call(cctx, conn, id), false))
}

// wrap names the plugin in an error, keeping what it wraps.
func (s *instance) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("plugin %s: %w", s.name, err)
}

// ObjectStore builds the object store name with config in the plugin
// process (an invalid config is an error now, as with a built-in store) and
// returns it. Calls on it start the process again when needed.
func (c *Client) ObjectStore(ctx context.Context, name string, config map[string]string) (ObjectStore, error) {
	s := &objectStoreClient{instance{c: c, kind: KindObjectStore, name: name, config: config,
		init: func(ctx context.Context, conn *grpc.ClientConn, req *pb.InitRequest) (*pb.InitResponse, error) {
			return pb.NewObjectStoreClient(conn).Init(ctx, req)
		}}}
	if _, _, _, err := s.ensure(ctx); err != nil {
		return nil, s.wrap(err)
	}
	return s, nil
}

// BlockStore is ObjectStore's counterpart for block stores.
func (c *Client) BlockStore(ctx context.Context, name string, config map[string]string) (BlockStore, error) {
	s := &blockStoreClient{instance{c: c, kind: KindBlockStore, name: name, config: config,
		init: func(ctx context.Context, conn *grpc.ClientConn, req *pb.InitRequest) (*pb.InitResponse, error) {
			return pb.NewBlockStoreClient(conn).Init(ctx, req)
		}}}
	if _, _, _, err := s.ensure(ctx); err != nil {
		return nil, s.wrap(err)
	}
	return s, nil
}
