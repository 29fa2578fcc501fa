package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heptio/ark/internal/objectstore"
)

// dirStore is a minimal objectstore.ObjectStore over a temp directory
// (<root>/<bucket>/<key>), enough for the local provider's tests without
// depending on the real stores. It records whether PutObject bodies could
// seek, to show that snapshots are streamed.
type dirStore struct {
	root string

	mu       sync.Mutex
	seekable []bool
}

var _ objectstore.ObjectStore = (*dirStore)(nil)

func newDirStore(t *testing.T, buckets ...string) *dirStore {
	t.Helper()
	s := &dirStore{root: t.TempDir()}
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(s.root, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *dirStore) path(bucket, key string) (string, error) {
	if _, err := os.Stat(filepath.Join(s.root, bucket)); err != nil {
		return "", fmt.Errorf("bucket %s: %w", bucket, objectstore.ErrBucketNotFound)
	}
	if key == "" || strings.Contains(key, "..") {
		return "", fmt.Errorf("bad key %q", key)
	}
	return filepath.Join(s.root, bucket, filepath.FromSlash(key)), nil
}

func (s *dirStore) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	_, canSeek := body.(io.Seeker)
	s.mu.Lock()
	s.seekable = append(s.seekable, canSeek)
	s.mu.Unlock()
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".upload-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (s *dirStore) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, objectstore.ErrNotFound)
	}
	return f, err
}

func (s *dirStore) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	base := filepath.Join(s.root, bucket)
	var keys []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".upload-") {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

func (s *dirStore) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	keys, err := s.ListObjects(ctx, bucket, prefix)
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

func (s *dirStore) DeleteObject(ctx context.Context, bucket, key string) error {
	p, err := s.path(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *dirStore) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	p, err := s.path(bucket, key)
	if err != nil {
		return "", err
	}
	return "file://" + p, nil
}
