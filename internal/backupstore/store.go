// Package backupstore is the bucket of backups: it knows where each file of a
// backup lives (its Layout) and reads and writes them through an
// objectstore.ObjectStore. Callers say what they want (a backup's log, a
// restore's results, a download link) and never build a key.
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

// Store is one bucket of backups, in one layout.
type Store struct {
	objects objectstore.ObjectStore
	bucket  string
	layout  Layout
}

// New is the bucket's backups as layout places them.
func New(objects objectstore.ObjectStore, bucket string, layout Layout) *Store {
	return &Store{objects: objects, bucket: bucket, layout: layout}
}

// Bucket is the bucket's name, for messages.
func (s *Store) Bucket() string { return s.bucket }

// MetadataFile is the name of a backup's metadata object, for messages.
func (s *Store) MetadataFile() string { return s.layout.metadataFile }

// GetArchive opens a backup's archive.
func (s *Store) GetArchive(ctx context.Context, backup string) (io.ReadCloser, error) {
	return s.objects.GetObject(ctx, s.bucket, s.layout.archiveKey(backup))
}

// ArchiveLocation names a backup's archive object, for messages that must
// say which object is damaged or missing.
func (s *Store) ArchiveLocation(backup string) string {
	return fmt.Sprintf("bucket %s, object %s", s.bucket, s.layout.archiveKey(backup))
}

// PutRestorePlan stores a dry-run restore's plan, gzipped JSON, as `ark
// restore describe` reads it.
func (s *Store) PutRestorePlan(ctx context.Context, backup, restore string, gzipped io.Reader) error {
	return s.objects.PutObject(ctx, s.bucket, s.layout.restorePlanKey(backup, restore), gzipped)
}

// PutRestoreLog stores a restore's gzipped log.
func (s *Store) PutRestoreLog(ctx context.Context, backup, restore string, gzipped io.Reader) error {
	return s.objects.PutObject(ctx, s.bucket, s.layout.restoreLogKey(backup, restore), gzipped)
}

// PutRestoreResults stores a restore's warnings and errors, gzipped JSON, as
// `ark restore describe` reads them.
func (s *Store) PutRestoreResults(ctx context.Context, backup, restore string, warnings, errs arkv1.RestoreResult) error {
	data, err := json.Marshal(map[string]arkv1.RestoreResult{"warnings": warnings, "errors": errs})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return s.objects.PutObject(ctx, s.bucket, s.layout.restoreResultsKey(backup, restore), &buf)
}

// maxMetadataSize bounds what is read of a metadata file, so a hostile
// bucket cannot exhaust memory.
const maxMetadataSize = 8 << 20

// GetMetadata reads a backup's metadata file. A backup that is not in the
// bucket returns an error wrapping objectstore.ErrNotFound.
func (s *Store) GetMetadata(ctx context.Context, backup string) (*arkv1.Backup, error) {
	key := s.layout.metadataKey(backup)
	rc, err := s.objects.GetObject(ctx, s.bucket, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if len(data) > maxMetadataSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: it is not an Ark backup's metadata", key, maxMetadataSize)
	}
	var b arkv1.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s is not a valid Backup object: %w", key, err)
	}
	if b.Name != backup {
		return nil, fmt.Errorf("%s names backup %q, not %q: the bucket's layout was changed by hand", key, b.Name, backup)
	}
	return &b, nil
}

// ListBackups returns the names of the backups whose metadata is in the
// bucket, sorted. The metadata is written last, so these are the complete
// backups and those a deletion stopped half way (see Files).
func (s *Store) ListBackups(ctx context.Context) ([]string, error) {
	prefixes, err := s.objects.ListCommonPrefixes(ctx, s.bucket, s.layout.backupsDir, "/")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range prefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(p, s.layout.backupsDir), "/")
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		files, err := s.Files(ctx, name)
		if err != nil {
			return nil, err
		}
		if files.Metadata {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// BackupFiles says which files the bucket holds under a backup's name.
type BackupFiles struct {
	Metadata, Archive, Log bool
	// Runs are the IDs of the runs whose marker is there: under way, or
	// interrupted before they finished (see BackupRun).
	Runs []string
	// Other counts any other objects there (restore logs and results).
	Other int
}

// Any reports whether any file is there under the backup's name.
func (f BackupFiles) Any() bool {
	return f.Metadata || f.Archive || f.Log || len(f.Runs) > 0 || f.Other > 0
}

// Complete reports whether the backup is whole: its archive and its
// metadata, which is written last.
func (f BackupFiles) Complete() bool { return f.Metadata && f.Archive }

// String lists the files, for messages.
func (f BackupFiles) String() string {
	var parts []string
	for _, p := range []struct {
		there bool
		what  string
	}{{f.Metadata, "its metadata"}, {f.Archive, "its archive"}, {f.Log, "its log"}} {
		if p.there {
			parts = append(parts, p.what)
		}
	}
	if n := len(f.Runs); n > 0 {
		parts = append(parts, fmt.Sprintf("the marker of %d backup run(s) under way or interrupted", n))
	}
	if f.Other > 0 {
		parts = append(parts, fmt.Sprintf("%d other file(s)", f.Other))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// Files lists which of a backup's files the bucket holds.
func (s *Store) Files(ctx context.Context, backup string) (BackupFiles, error) {
	dir := s.layout.backupDir(backup)
	keys, err := s.objects.ListObjects(ctx, s.bucket, dir)
	if err != nil {
		return BackupFiles{}, err
	}
	var f BackupFiles
	for _, k := range keys {
		switch k {
		case s.layout.metadataKey(backup):
			f.Metadata = true
		case s.layout.archiveKey(backup):
			f.Archive = true
		case s.layout.logKey(backup):
			f.Log = true
		default:
			name := strings.TrimPrefix(k, dir)
			if id, ok := strings.CutPrefix(name, runMarkerPrefix); ok && strings.HasSuffix(id, runMarkerSuffix) && !strings.Contains(id, "/") {
				f.Runs = append(f.Runs, strings.TrimSuffix(id, runMarkerSuffix))
				continue
			}
			f.Other++
		}
	}
	return f, nil
}

// DeleteBackup removes every object of a backup (archive, log, metadata,
// restore logs and results). The metadata goes last, so an interrupted
// delete leaves a backup sync still sees and a second delete finishes.
func (s *Store) DeleteBackup(ctx context.Context, backup string) error {
	keys, err := s.objects.ListObjects(ctx, s.bucket, s.layout.backupDir(backup))
	if err != nil {
		return err
	}
	metadata := s.layout.metadataKey(backup)
	var errs []error
	for _, k := range keys {
		if k == metadata {
			continue
		}
		if err := s.objects.DeleteObject(ctx, s.bucket, k); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return s.objects.DeleteObject(ctx, s.bucket, metadata)
}

// Ping checks that the bucket can be listed, so a backup fails early with the
// store's own clear message (missing bucket, bad credentials, unreachable).
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.objects.ListCommonPrefixes(ctx, s.bucket, s.layout.backupsDir, "/")
	return err
}

// PingWithRetry is Ping, retrying transient failures with backoff. A missing
// bucket or refused credentials will not heal by waiting, so those fail at
// once.
func (s *Store) PingWithRetry(ctx context.Context) error {
	delay := time.Second
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = s.Ping(ctx); err == nil {
			return nil
		}
		if errors.Is(err, objectstore.ErrBucketNotFound) || errors.Is(err, objectstore.ErrAccessDenied) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	return err
}

// RemoveStaleUploads removes what uploads that a crashed server left in the
// bucket, when the store keeps such things (the filesystem store's
// temporary files); other stores drop an unfinished upload themselves.
func (s *Store) RemoveStaleUploads(ctx context.Context) ([]string, error) {
	if r, ok := s.objects.(objectstore.StaleUploadRemover); ok {
		return r.RemoveStaleUploads(ctx, s.bucket)
	}
	return nil, nil
}
