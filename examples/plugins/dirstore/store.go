package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/heptio/ark/pkg/plugin"
)

// rootKey is the one config key: the directory that holds the buckets.
const rootKey = "root"

// store keeps each bucket in a directory <root>/<bucket>, with every object
// in one flat file named after its escaped key ("b1/ark-backup.json" is
// <root>/<bucket>/b1%2Fark-backup.json): a layout of its own, unlike Ark's
// built-in filesystem store, which mirrors the keys' directories.
type store struct{ root string }

func newStore(config map[string]string) (plugin.ObjectStore, error) {
	for k := range config {
		if k != rootKey {
			return nil, fmt.Errorf("unknown config key %q: the only key is %q: %w", k, rootKey, plugin.ErrInvalidConfig)
		}
	}
	root := config[rootKey]
	if root == "" || !filepath.IsAbs(root) {
		return nil, fmt.Errorf("config key %q must be an absolute directory, got %q: %w", rootKey, root, plugin.ErrInvalidConfig)
	}
	return &store{root: root}, nil
}

func (s *store) bucket(bucket string) (string, error) {
	if bucket == "" || strings.ContainsAny(bucket, `/\`) || bucket == "." || bucket == ".." {
		return "", fmt.Errorf("bucket %q is not a directory name: %w", bucket, plugin.ErrBucketNotFound)
	}
	dir := filepath.Join(s.root, bucket)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return "", fmt.Errorf("bucket directory %s does not exist (create it): %w", dir, plugin.ErrBucketNotFound)
	}
	return dir, nil
}

func (s *store) file(bucket, key string) (string, error) {
	dir, err := s.bucket(bucket)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, url.PathEscape(key)), nil
}

func (s *store) PutObject(_ context.Context, bucket, key string, body io.Reader) error {
	path, err := s.file(bucket, key)
	if err != nil {
		return err
	}
	// Written aside and renamed: a reader never sees half an object.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".put-*")
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
	return os.Rename(tmp.Name(), path)
}

func (s *store) GetObject(_ context.Context, bucket, key string) (io.ReadCloser, error) {
	path, err := s.file(bucket, key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s in bucket %s: %w", key, bucket, plugin.ErrNotFound)
	}
	return f, err
}

// keys lists the bucket's keys that start with prefix, sorted.
func (s *store) keys(bucket, prefix string) ([]string, error) {
	dir, err := s.bucket(bucket)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		key, err := url.PathUnescape(e.Name())
		if err == nil && strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *store) ListObjects(_ context.Context, bucket, prefix string) ([]string, error) {
	return s.keys(bucket, prefix)
}

func (s *store) ListCommonPrefixes(_ context.Context, bucket, prefix, delimiter string) ([]string, error) {
	keys, err := s.keys(bucket, prefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		rest := k[len(prefix):]
		i := strings.Index(rest, delimiter)
		if i < 0 {
			continue
		}
		p := prefix + rest[:i+len(delimiter)]
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *store) DeleteObject(_ context.Context, bucket, key string) error {
	path, err := s.file(bucket, key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// CreateSignedURL returns a file:// URL: `ark backup download` reads it on
// the machine that runs the server, as with the built-in filesystem store.
func (s *store) CreateSignedURL(_ context.Context, bucket, key string, _ time.Duration) (string, error) {
	path, err := s.file(bucket, key)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: path}).String(), nil
}
