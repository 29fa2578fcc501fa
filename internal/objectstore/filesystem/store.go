// Package filesystem is an object store kept in a local directory, for
// single-machine setups and the quickstart: <path>/<bucket>/<key>.
//
// Objects hold every Secret of a backup, so what the store creates is
// private to the user the server runs as: files 0600 (the temporary file
// too, and the rename keeps its mode), directories 0700.
//
// Writes go to a hidden temporary file next to the object and are renamed
// into place after an fsync, so a crash leaves either the old object or the
// new one under the key, never a torn file. Every file operation goes through
// an os.Root opened on the bucket directory, so no key (not even one routed
// through a symlink planted in the bucket) can reach outside it.
package filesystem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"github.com/heptio/ark/internal/objectstore"
)

// ConfigPath is the one config key: the directory that holds the buckets.
const ConfigPath = "path"

// tempPrefix marks in-flight uploads. Keys may not use it, so a listing
// can skip them without ever hiding a real object.
const tempPrefix = ".ark-upload-"

// Modes of what the store creates: readable by the server's user only.
const (
	fileMode fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// Store implements objectstore.ObjectStore on a local directory.
type Store struct {
	root string // absolute
}

var _ objectstore.ObjectStore = (*Store)(nil)

// New builds a Store from backupStorageProvider.config; "path" must name an
// existing directory.
// Keys are the config keys of the filesystem object store.
var Keys = providerconfig.Keys{Known: []string{ConfigPath}, Required: [][]string{{ConfigPath}}}

func New(cfg map[string]string) (*Store, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("filesystem object store: %w in backupStorageProvider.config", err)
	}
	p := cfg[ConfigPath]
	if p == "" {
		return nil, fmt.Errorf("filesystem object store: config key %q is required: set backupStorageProvider.config.path to the directory that holds the buckets, for example /var/lib/ark/storage", ConfigPath)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("filesystem object store: config path %q: %w", p, err)
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("filesystem object store: config path %q does not exist: create it (mkdir -p %s) or fix backupStorageProvider.config.path", abs, abs)
	case err != nil:
		return nil, fmt.Errorf("filesystem object store: config path %q: %w", abs, err)
	case !info.IsDir():
		return nil, fmt.Errorf("filesystem object store: config path %q is not a directory: point backupStorageProvider.config.path at a directory", abs)
	}
	return &Store{root: abs}, nil
}

// ValidateKey rejects keys that are not a clean relative slash path inside
// the bucket: empty, absolute, with "." or ".." or empty segments, NUL bytes,
// or the reserved temporary-file prefix.
func ValidateKey(key string) error {
	if key == "" {
		return errors.New("object key is empty")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("object key %q is absolute: keys are relative to the bucket", key)
	}
	if strings.ContainsRune(key, 0) {
		return fmt.Errorf("object key %q contains a NUL byte", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("object key %q has an empty path segment (a leading, doubled or trailing \"/\")", key)
		case seg == "." || seg == "..":
			return fmt.Errorf("object key %q contains %q: keys must not leave the bucket", key, seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("object key %q uses the prefix %q, which is reserved for uploads in progress", key, tempPrefix)
		}
	}
	return nil
}

func validateBucket(bucket string) error {
	if bucket == "" || bucket == "." || bucket == ".." || strings.ContainsAny(bucket, "/\x00") {
		return fmt.Errorf("bucket name %q is not a single directory name: set backupStorageProvider.bucket to a plain name such as ark", bucket)
	}
	return nil
}

// openBucket opens the bucket directory as an os.Root.
func (s *Store) openBucket(bucket string) (*os.Root, error) {
	if err := validateBucket(bucket); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root, bucket)
	r, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%w: bucket %q is not a directory under %s: create it (mkdir -p %s) or fix backupStorageProvider.bucket in the Ark Config",
				objectstore.ErrBucketNotFound, bucket, s.root, dir)
		}
		return nil, s.mapError("open bucket", bucket, "", err)
	}
	return r, nil
}

func (s *Store) mapError(op, bucket, key string, err error) error {
	where := filepath.Join(s.root, bucket, filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) {
		// The bucket directory may have gone away under a running call.
		dir := filepath.Join(s.root, bucket)
		if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("%w: bucket %q (%s) was removed during %s %s: recreate it (mkdir -p %s): %w",
				objectstore.ErrBucketNotFound, bucket, dir, op, where, dir, err)
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %s %s: make %s readable and writable by the user the Ark server runs as: %w",
			objectstore.ErrAccessDenied, op, where, s.root, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// PutObject copies body into a temporary file, fsyncs it and renames it over
// key, so readers see the old or the new object and never a partial one.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	r, err := s.openBucket(bucket)
	if err != nil {
		return err
	}
	defer r.Close()

	dir := path.Dir(key)
	tmp, tmpName, err := createTemp(r, dir)
	if err != nil {
		return s.mapError("put", bucket, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			_ = r.Remove(tmpName)
		}
	}()
	// Held until the upload ends, so a server starting meanwhile does not
	// take the file for a crashed upload's (RemoveStaleUploads).
	defer holdUpload(r, tmpName).Release()

	if _, err := io.Copy(tmp, contextReader{ctx: ctx, r: body}); err != nil {
		return s.mapError("put", bucket, key, err)
	}
	if err := tmp.Sync(); err != nil {
		return s.mapError("put", bucket, key, err)
	}
	if err := tmp.Close(); err != nil {
		return s.mapError("put", bucket, key, err)
	}
	if err := r.Rename(tmpName, key); err != nil {
		return s.mapError("put", bucket, key, err)
	}
	committed = true
	// The rename is durable only once the directory entry is on disk.
	if d, err := r.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// createTemp makes dir (racing a DeleteObject that prunes empty
// directories, hence the retry) and an exclusive temporary file in it.
func createTemp(r *os.Root, dir string) (*os.File, string, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if err := r.MkdirAll(dir, dirMode); err != nil {
			return nil, "", err
		}
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		name := path.Join(dir, tempPrefix+hex.EncodeToString(rnd[:]))
		f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			return f, name, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return nil, "", lastErr
}

// contextReader stops a long copy when the caller gives up.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// GetObject opens key for reading.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	r, err := s.openBucket(bucket)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Open(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%w: %s", objectstore.ErrNotFound, filepath.Join(s.root, bucket, filepath.FromSlash(key)))
		}
		return nil, s.mapError("get", bucket, key, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", objectstore.ErrNotFound, filepath.Join(s.root, bucket, filepath.FromSlash(key)))
	}
	return f, nil
}

// ListObjects returns every regular file under prefix as a slash key, sorted
// byte-wise like S3.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	r, err := s.openBucket(bucket)
	if err != nil {
		return nil, err
	}
	defer r.Close()

	// Walk only the deepest directory the prefix names; the rest of the
	// prefix is matched as a string.
	start := "."
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		start = prefix[:i]
	}
	if !fs.ValidPath(start) {
		return nil, fmt.Errorf("list prefix %q is not a clean relative path", prefix)
	}
	var keys []string
	err = fs.WalkDir(r.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if strings.HasPrefix(d.Name(), tempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		if strings.HasPrefix(p, prefix) {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, s.mapError("list", bucket, prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// ListCommonPrefixes groups the keys under prefix by the next delimiter.
// Directories left without objects contribute nothing, as in S3.
func (s *Store) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	if delimiter == "" {
		return nil, errors.New("list common prefixes: delimiter is empty")
	}
	keys, err := s.ListObjects(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
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
	sort.Strings(out)
	return out, nil
}

// DeleteObject removes key and prunes directories it leaves empty, so they
// do not linger as prefixes. A missing key is not an error.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	r, err := s.openBucket(bucket)
	if err != nil {
		return err
	}
	defer r.Close()
	if info, err := r.Lstat(key); err == nil && info.IsDir() {
		return nil // a prefix, not an object
	}
	if err := r.Remove(key); err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return s.mapError("delete", bucket, key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if r.Remove(dir) != nil { // not empty (or in use by a concurrent put)
			break
		}
	}
	return nil
}

// CreateSignedURL returns the object's file:// URL. There is nothing to
// sign: whoever can read the file can read the object, and ttl does not
// apply. The ark CLI reads such URLs directly when it runs on the same
// machine (net/http's NewFileTransport serves them).
func (s *Store) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	r, err := s.openBucket(bucket)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := r.Stat(key); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s", objectstore.ErrNotFound, filepath.Join(s.root, bucket, filepath.FromSlash(key)))
		}
		return "", s.mapError("sign", bucket, key, err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(s.root, bucket, filepath.FromSlash(key)))}
	return u.String(), nil
}
