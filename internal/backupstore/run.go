package backupstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	arkv1 "github.com/heptio/ark/api/v1"
)

// BackupRun writes the files of one run of a backup and remembers which it
// wrote, so that a run that fails removes exactly those: never a file of an
// older backup of the same name (one re-created after `kubectl delete
// backup`, or written by another cluster sharing the bucket).
type BackupRun struct {
	store   *Store
	backup  string
	written []string
}

// StartBackup begins writing the files of backup, always in Ark's own
// layout. Callers check ReadOnlyReason first: a location that holds another
// tool's backups takes no new ones unless the Config allows it.
func (s *Store) StartBackup(backup string) *BackupRun {
	return &BackupRun{store: s, backup: backup}
}

func (r *BackupRun) put(ctx context.Context, key string, body io.Reader) error {
	// Recorded before the upload: a failed upload may still have left a
	// partial object (or a complete one, unacknowledged).
	r.written = append(r.written, key)
	return r.store.objects.PutObject(ctx, r.store.bucket, key, body)
}

// PutArchive streams the backup's archive into the bucket.
func (r *BackupRun) PutArchive(ctx context.Context, archive io.Reader) error {
	return r.put(ctx, r.store.layouts[0].archiveKey(r.backup), archive)
}

// PutLog stores the backup's gzipped log.
func (r *BackupRun) PutLog(ctx context.Context, gzipped io.Reader) error {
	return r.put(ctx, r.store.layouts[0].logKey(r.backup), gzipped)
}

// PutMetadata writes the Backup object as the metadata file. It must come
// last: its presence marks a complete backup.
func (r *BackupRun) PutMetadata(ctx context.Context, b *arkv1.Backup) error {
	if b.Name != r.backup {
		return fmt.Errorf("metadata of backup %q written by the run of backup %q", b.Name, r.backup)
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return r.put(ctx, r.store.layouts[0].metadataKey(r.backup), bytes.NewReader(data))
}

// Discard deletes what this run wrote, the metadata first so that nothing
// half-written is ever taken for a complete backup.
func (r *BackupRun) Discard(ctx context.Context) error {
	var errs []error
	for i := len(r.written) - 1; i >= 0; i-- {
		if err := r.store.objects.DeleteObject(ctx, r.store.bucket, r.written[i]); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", r.written[i], err))
		}
	}
	r.written = nil
	return errors.Join(errs...)
}
