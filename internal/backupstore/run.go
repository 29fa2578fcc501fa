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
	// sealer encrypts the archive and the log; nil: they are stored plain.
	sealer Sealer
	// stored is the digest of the encrypted archive as uploaded.
	stored *arkv1.ArchiveInfo
}

// StartBackup begins writing the files of backup.
func (s *Store) StartBackup(backup string) *BackupRun {
	return &BackupRun{store: s, backup: backup}
}

func (r *BackupRun) put(ctx context.Context, key string, body io.Reader) error {
	// Recorded before the upload: a failed upload may still have left a
	// partial object (or a complete one, unacknowledged).
	r.written = append(r.written, key)
	return r.store.objects.PutObject(ctx, r.store.bucket, key, body)
}

// PutArchive streams the backup's archive into the bucket, encrypted when
// the run encrypts (StoredArchive then says what was stored).
func (r *BackupRun) PutArchive(ctx context.Context, archive io.Reader) error {
	body, count, err := r.seal(archive)
	if err != nil {
		return err
	}
	if err := r.put(ctx, r.store.layout.archiveKey(r.backup), body); err != nil {
		return err
	}
	if count != nil {
		r.stored = &arkv1.ArchiveInfo{SHA256: count.SHA256(), Size: count.Size()}
	}
	return nil
}

// PutLog stores the backup's gzipped log, encrypted when the run encrypts.
func (r *BackupRun) PutLog(ctx context.Context, gzipped io.Reader) error {
	body, _, err := r.seal(gzipped)
	if err != nil {
		return err
	}
	return r.put(ctx, r.store.layout.logKey(r.backup), body)
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
	return r.put(ctx, r.store.layout.metadataKey(r.backup), bytes.NewReader(data))
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

// DiscardUnfinished deletes the files of a backup that never finished (a
// run a crash interrupted): its archive and log. A backup whose metadata is
// in the bucket is complete, hence not that run's: it is left alone and
// the error says so.
func (s *Store) DiscardUnfinished(ctx context.Context, backup string) error {
	files, err := s.Files(ctx, backup)
	if err != nil {
		return err
	}
	if files.Metadata {
		return fmt.Errorf("bucket %s holds a complete backup named %q (its %s is there), which is not this run's: left alone", s.bucket, backup, s.layout.metadataFile)
	}
	var errs []error
	for _, key := range []string{s.layout.archiveKey(backup), s.layout.logKey(backup)} {
		if err := s.objects.DeleteObject(ctx, s.bucket, key); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", key, err))
		}
	}
	return errors.Join(errs...)
}
