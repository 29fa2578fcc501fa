package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/tempfiles"
)

var _ objectstore.StaleUploadRemover = (*Store)(nil)

// staleUploadGrace is how long a temporary file is left alone whatever its
// lock says: a new upload takes its lock a moment after creating the file.
const staleUploadGrace = 10 * time.Second

// holdUpload locks an upload's temporary file for as long as the upload
// runs, so that RemoveStaleUploads in another process leaves it alone. A
// failure to lock is not an upload's failure: the grace period covers it.
func holdUpload(r *os.Root, name string) *tempfiles.Lock {
	f, err := r.Open(name)
	if err != nil {
		return nil
	}
	l, err := tempfiles.HoldOpen(f, name, func() (fs.FileInfo, error) { return r.Lstat(name) })
	if err != nil {
		return nil
	}
	return l
}

// RemoveStaleUploads removes the temporary files of uploads that a process
// which died left in the bucket: those no live process holds, older than a
// few seconds.
func (s *Store) RemoveStaleUploads(ctx context.Context, bucket string) ([]string, error) {
	if !tempfiles.Supported() {
		return nil, nil
	}
	r, err := s.openBucket(bucket)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var removed []string
	var errs []error
	err = fs.WalkDir(r.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if d.IsDir() || !d.Type().IsRegular() || !strings.HasPrefix(path.Base(name), tempPrefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil || time.Since(info.ModTime()) < staleUploadGrace {
			return nil
		}
		held := holdUpload(r, name)
		if held == nil {
			return nil // a live upload
		}
		defer held.Release()
		if err := r.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, s.mapError("remove stale upload", bucket, name, err))
			return nil
		}
		removed = append(removed, name)
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("looking for stale uploads in bucket %s: %w", bucket, err))
	}
	return removed, errors.Join(errs...)
}
