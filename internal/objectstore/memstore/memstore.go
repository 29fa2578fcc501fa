// Package memstore is an in-memory objectstore.ObjectStore for tests of
// logic that reads and writes a bucket (the bucket layout, deletion, sync,
// local snapshots), with hooks to make calls fail. Claims that a feature
// works against real storage are tested with the real providers on MinIO
// and the emulators, not with this.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heptio/ark/internal/objectstore"
)

// Store holds objects per bucket. A bucket exists once created with New or
// written to.
type Store struct {
	mu      sync.Mutex
	buckets map[string]map[string][]byte
	// seekable records, for each PutObject, whether its body could seek, so
	// tests can show that callers stream.
	seekable []bool

	// FailPut, when set, is asked before each PutObject; an error fails the
	// put after the body was read.
	FailPut func(bucket, key string) error
	// FailDelete, when set, is asked before each DeleteObject.
	FailDelete func(bucket, key string) error
}

var _ objectstore.ObjectStore = (*Store)(nil)

// New is a store holding the given buckets, empty.
func New(buckets ...string) *Store {
	s := &Store{buckets: map[string]map[string][]byte{}}
	for _, b := range buckets {
		s.buckets[b] = map[string][]byte{}
	}
	return s
}

func (s *Store) bucket(name string) (map[string][]byte, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, fmt.Errorf("bucket %s: %w", name, objectstore.ErrBucketNotFound)
	}
	return b, nil
}

// PutObject implements objectstore.ObjectStore.
func (s *Store) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	_, canSeek := body.(io.Seeker)
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seekable = append(s.seekable, canSeek)
	if s.FailPut != nil {
		if err := s.FailPut(bucket, key); err != nil {
			return err
		}
	}
	b, err := s.bucket(bucket)
	if err != nil {
		return err
	}
	b[key] = data
	return nil
}

// GetObject implements objectstore.ObjectStore.
func (s *Store) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucket)
	if err != nil {
		return nil, err
	}
	data, ok := b[key]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, objectstore.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// ListCommonPrefixes implements objectstore.ObjectStore.
func (s *Store) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	keys, err := s.list(bucket, prefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, prefix)
		if i := strings.Index(rest, delimiter); i >= 0 {
			if p := prefix + rest[:i+len(delimiter)]; !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// ListObjects implements objectstore.ObjectStore.
func (s *Store) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	return s.list(bucket, prefix)
}

func (s *Store) list(bucket, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range b {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeleteObject implements objectstore.ObjectStore.
func (s *Store) DeleteObject(_ context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FailDelete != nil {
		if err := s.FailDelete(bucket, key); err != nil {
			return err
		}
	}
	b, err := s.bucket(bucket)
	if err != nil {
		return err
	}
	delete(b, key)
	return nil
}

// CreateSignedURL implements objectstore.ObjectStore with a mem:// URL that
// names the object; nothing can download it.
func (s *Store) CreateSignedURL(_ context.Context, bucket, key string, _ time.Duration) (string, error) {
	return "mem://" + bucket + "/" + key, nil
}

// Keys lists the keys of bucket under prefix, for assertions.
func (s *Store) Keys(bucket, prefix string) []string {
	keys, _ := s.list(bucket, prefix)
	return keys
}

// Seekable reports, for each PutObject so far, whether its body could seek.
func (s *Store) Seekable() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bool(nil), s.seekable...)
}
