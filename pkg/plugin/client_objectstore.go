package plugin

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/heptio/ark/pkg/plugin/internal/pb"
)

type objectStoreClient struct{ instance }

var _ ObjectStore = (*objectStoreClient)(nil)

func (s *objectStoreClient) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	conn, gen, id, err := s.ensure(ctx)
	if err != nil {
		return s.wrap(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &watchdog{c: s.c, gen: gen, cancel: cancel}
	var stream pb.ObjectStore_PutObjectClient
	err = w.do(func() (err error) {
		stream, err = pb.NewObjectStoreClient(conn).PutObject(sctx)
		if err != nil {
			return err
		}
		return stream.Send(&pb.PutObjectRequest{Object: &pb.ObjectRequest{Instance: id, Bucket: bucket, Key: key}})
	})
	buf := make([]byte, chunkSize)
	for err == nil {
		// Reading the body is the caller's pace (a backup being written),
		// not the plugin's: the watchdog only times the plugin.
		n, readErr := io.ReadFull(body, buf)
		if n > 0 {
			err = w.do(func() error { return stream.Send(&pb.PutObjectRequest{Data: buf[:n]}) })
		}
		if readErr == io.EOF || readErr == io.ErrUnexpectedEOF {
			break
		}
		if readErr != nil {
			cancel() // the plugin must not store a partial object
			return readErr
		}
	}
	if err == nil || errors.Is(err, io.EOF) {
		// io.EOF from Send: the plugin ended the call; its status says why.
		err = w.do(func() error { _, err := stream.CloseAndRecv(); return err })
	}
	return s.wrap(s.c.callError(ctx, gen, err, w.fired.Load()))
}

func (s *objectStoreClient) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	conn, gen, id, err := s.ensure(ctx)
	if err != nil {
		return nil, s.wrap(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	w := &watchdog{c: s.c, gen: gen, cancel: cancel}
	r := &objectReader{s: s, ctx: ctx, gen: gen, w: w, cancel: cancel}
	err = w.do(func() (err error) {
		r.stream, err = pb.NewObjectStoreClient(conn).GetObject(sctx, &pb.ObjectRequest{Instance: id, Bucket: bucket, Key: key})
		if err != nil {
			return err
		}
		// The first message (or the error: not found, access denied)
		// comes now, so a missing object fails GetObject, not Read.
		chunk, err := r.stream.Recv()
		if err == io.EOF {
			r.eof = true
			return nil
		}
		r.pending = chunk.GetData()
		return err
	})
	if err != nil {
		cancel()
		return nil, s.wrap(s.c.callError(ctx, gen, err, w.fired.Load()))
	}
	return r, nil
}

// objectReader reads an object's data as the plugin streams it.
type objectReader struct {
	s       *objectStoreClient
	ctx     context.Context
	gen     uint64
	w       *watchdog
	cancel  context.CancelFunc
	stream  pb.ObjectStore_GetObjectClient
	pending []byte
	eof     bool
	err     error
}

func (r *objectReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		if r.err != nil {
			return 0, r.err
		}
		err := r.w.do(func() error {
			chunk, err := r.stream.Recv()
			r.pending = chunk.GetData()
			return err
		})
		if err == io.EOF {
			r.eof = true
			return 0, io.EOF
		}
		if err != nil {
			r.err = r.s.wrap(r.s.c.callError(r.ctx, r.gen, err, r.w.fired.Load()))
			return 0, r.err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (r *objectReader) Close() error {
	r.cancel()
	return nil
}

func (s *objectStoreClient) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	var keys []string
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, id string) error {
		resp, err := pb.NewObjectStoreClient(conn).ListCommonPrefixes(ctx, &pb.ListRequest{Instance: id, Bucket: bucket, Prefix: prefix, Delimiter: delimiter})
		keys = resp.GetKeys()
		return err
	})
	return keys, err
}

func (s *objectStoreClient) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	var keys []string
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, id string) error {
		resp, err := pb.NewObjectStoreClient(conn).ListObjects(ctx, &pb.ListRequest{Instance: id, Bucket: bucket, Prefix: prefix})
		keys = resp.GetKeys()
		return err
	})
	return keys, err
}

func (s *objectStoreClient) DeleteObject(ctx context.Context, bucket, key string) error {
	return s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, id string) error {
		_, err := pb.NewObjectStoreClient(conn).DeleteObject(ctx, &pb.ObjectRequest{Instance: id, Bucket: bucket, Key: key})
		return err
	})
}

func (s *objectStoreClient) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	var url string
	err := s.unary(ctx, func(ctx context.Context, conn *grpc.ClientConn, id string) error {
		resp, err := pb.NewObjectStoreClient(conn).CreateSignedURL(ctx, &pb.SignedURLRequest{Instance: id, Bucket: bucket, Key: key, TtlSeconds: int64(ttl / time.Second)})
		url = resp.GetUrl()
		return err
	})
	return url, err
}
