// Package backupstore knows where Ark keeps each file of a backup in a bucket
// (the layout of Heptio Ark) and reads and writes them through an
// objectstore.ObjectStore. Controllers use it; they never build keys.
//
//	<bucket>/<backup>/ark-backup.json            the Backup object, status included
//	<bucket>/<backup>/<backup>.tar.gz            the archive
//	<bucket>/<backup>/<backup>-logs.gz           the backup log
//	<bucket>/<backup>/restore-<restore>-logs.gz
//	<bucket>/<backup>/restore-<restore>-results.gz
package backupstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
)

// MetadataFile is the name of a backup's metadata object. Its presence marks
// a complete backup: it is written last.
const MetadataFile = "ark-backup.json"

// Store is one bucket of backups.
type Store struct {
	Objects objectstore.ObjectStore
	Bucket  string
}

// MetadataKey and the other key functions give the layout.
func MetadataKey(backup string) string { return backup + "/" + MetadataFile }

// ArchiveKey is the key of a backup's tar.gz.
func ArchiveKey(backup string) string { return backup + "/" + backup + ".tar.gz" }

// LogKey is the key of a backup's gzipped log.
func LogKey(backup string) string { return backup + "/" + backup + "-logs.gz" }

// RestoreLogKey is the key of a restore's gzipped log, beside its backup.
func RestoreLogKey(backup, restore string) string {
	return backup + "/restore-" + restore + "-logs.gz"
}

// RestoreResultsKey is the key of a restore's gzipped results.
func RestoreResultsKey(backup, restore string) string {
	return backup + "/restore-" + restore + "-results.gz"
}

// PutArchive streams a backup's archive into the bucket.
func (s *Store) PutArchive(ctx context.Context, backup string, r io.Reader) error {
	return s.Objects.PutObject(ctx, s.Bucket, ArchiveKey(backup), r)
}

// GetArchive opens a backup's archive.
func (s *Store) GetArchive(ctx context.Context, backup string) (io.ReadCloser, error) {
	return s.Objects.GetObject(ctx, s.Bucket, ArchiveKey(backup))
}

// PutFile writes a small file (a log, results) under key.
func (s *Store) PutFile(ctx context.Context, key string, r io.Reader) error {
	return s.Objects.PutObject(ctx, s.Bucket, key, r)
}

// PutMetadata writes the Backup object as ark-backup.json.
func (s *Store) PutMetadata(ctx context.Context, b *arkv1.Backup) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return s.Objects.PutObject(ctx, s.Bucket, MetadataKey(b.Name), bytes.NewReader(data))
}

// maxMetadataSize bounds what is read of an ark-backup.json, so a hostile
// bucket cannot exhaust memory.
const maxMetadataSize = 8 << 20

// GetMetadata reads a backup's ark-backup.json. A backup that is not in the
// bucket returns an error wrapping objectstore.ErrNotFound.
func (s *Store) GetMetadata(ctx context.Context, backup string) (*arkv1.Backup, error) {
	rc, err := s.Objects.GetObject(ctx, s.Bucket, MetadataKey(backup))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", MetadataKey(backup), err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: it is not an Ark backup's metadata", MetadataKey(backup), maxMetadataSize)
	}
	var b arkv1.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s is not a valid Backup object: %w", MetadataKey(backup), err)
	}
	if b.Name != backup {
		return nil, fmt.Errorf("%s names backup %q, not %q: the bucket's layout was changed by hand", MetadataKey(backup), b.Name, backup)
	}
	return &b, nil
}

// ListBackups returns the names of the complete backups in the bucket: the
// top-level directories that hold an ark-backup.json.
func (s *Store) ListBackups(ctx context.Context) ([]string, error) {
	prefixes, err := s.Objects.ListCommonPrefixes(ctx, s.Bucket, "", "/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range prefixes {
		name := strings.TrimSuffix(p, "/")
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		keys, err := s.Objects.ListObjects(ctx, s.Bucket, MetadataKey(name))
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k == MetadataKey(name) {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeleteBackup removes every object of a backup (archive, log, metadata,
// restore logs and results). The metadata goes last, so an interrupted
// delete leaves a backup sync still sees and a second delete finishes.
func (s *Store) DeleteBackup(ctx context.Context, backup string) error {
	keys, err := s.Objects.ListObjects(ctx, s.Bucket, backup+"/")
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		if k == MetadataKey(backup) {
			continue
		}
		if err := s.Objects.DeleteObject(ctx, s.Bucket, k); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return s.Objects.DeleteObject(ctx, s.Bucket, MetadataKey(backup))
}

// SignedURL returns a download URL for key, valid for ttl.
func (s *Store) SignedURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return s.Objects.CreateSignedURL(ctx, s.Bucket, key, ttl)
}

// Ping checks that the bucket can be listed, so a backup fails early with the
// store's own clear message (missing bucket, bad credentials, unreachable).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.Objects.ListCommonPrefixes(ctx, s.Bucket, "", "/")
	return err
}

// Gzip compresses data for the small gzipped files (results).
func Gzip(data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}
