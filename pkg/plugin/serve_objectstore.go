package plugin

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

// chunkSize is the data of one stream message of PutObject and GetObject.
const chunkSize = 512 << 10

type objectStoreServer struct {
	pb.UnimplementedObjectStoreServer
	stores *instances[ObjectStore]
}

func newObjectStoreServer(factories map[string]ObjectStoreFactory) *objectStoreServer {
	f := map[string]func(map[string]string) (ObjectStore, error){}
	for name, factory := range factories {
		f[name] = factory
	}
	return &objectStoreServer{stores: newInstances(KindObjectStore, f)}
}

func (s *objectStoreServer) Init(_ context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	id, err := s.stores.init(req.GetName(), req.GetConfig())
	if err != nil {
		return nil, err
	}
	return &pb.InitResponse{Instance: id}, nil
}

func (s *objectStoreServer) PutObject(stream pb.ObjectStore_PutObjectServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	obj := first.GetObject()
	store, err := s.stores.get(obj.GetInstance())
	if err != nil {
		return err
	}
	body := &putReader{stream: stream, pending: first.GetData()}
	if err := store.PutObject(stream.Context(), obj.GetBucket(), obj.GetKey(), body); err != nil {
		return toStatus(err)
	}
	// A store that stopped reading early has not stored the whole body.
	if !body.eof {
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
		return toStatus(errors.New("the object store returned before it read the whole object"))
	}
	return stream.SendAndClose(&pb.Empty{})
}

// putReader reads the data of a PutObject stream.
type putReader struct {
	stream  pb.ObjectStore_PutObjectServer
	pending []byte
	eof     bool
}

func (r *putReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		msg, err := r.stream.Recv()
		if err == io.EOF {
			r.eof = true
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		r.pending = msg.GetData()
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (s *objectStoreServer) GetObject(req *pb.ObjectRequest, stream pb.ObjectStore_GetObjectServer) error {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return err
	}
	rc, err := store.GetObject(stream.Context(), req.GetBucket(), req.GetKey())
	if err != nil {
		return toStatus(err)
	}
	defer rc.Close()
	buf := make([]byte, chunkSize)
	for {
		n, err := io.ReadFull(rc, buf)
		if n > 0 {
			if sendErr := stream.Send(&pb.Chunk{Data: buf[:n]}); sendErr != nil {
				return sendErr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
	}
}

func (s *objectStoreServer) ListCommonPrefixes(ctx context.Context, req *pb.ListRequest) (*pb.ListResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	keys, err := store.ListCommonPrefixes(ctx, req.GetBucket(), req.GetPrefix(), req.GetDelimiter())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListResponse{Keys: keys}, nil
}

func (s *objectStoreServer) ListObjects(ctx context.Context, req *pb.ListRequest) (*pb.ListResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	keys, err := store.ListObjects(ctx, req.GetBucket(), req.GetPrefix())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListResponse{Keys: keys}, nil
}

func (s *objectStoreServer) DeleteObject(ctx context.Context, req *pb.ObjectRequest) (*pb.Empty, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	if err := store.DeleteObject(ctx, req.GetBucket(), req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.Empty{}, nil
}

func (s *objectStoreServer) CreateSignedURL(ctx context.Context, req *pb.SignedURLRequest) (*pb.SignedURLResponse, error) {
	store, err := s.stores.get(req.GetInstance())
	if err != nil {
		return nil, err
	}
	url, err := store.CreateSignedURL(ctx, req.GetBucket(), req.GetKey(), time.Duration(req.GetTtlSeconds())*time.Second)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SignedURLResponse{Url: url}, nil
}
