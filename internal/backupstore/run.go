package backupstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
)

// BackupRun writes the files of one run of a backup and remembers which it
// wrote, so that a run that fails removes exactly those: never a file of an
// older backup of the same name (one re-created after `kubectl delete
// backup`, or written by another cluster sharing the bucket).
//
// A run is identified by its ID (the Backup object's UID). Before anything
// else it writes a marker naming that ID into the backup's directory
// (Claim), and it removes the marker once the metadata is written (Finish).
// A marker left in the bucket is a run that never finished: the server that
// starts next finds it (OpenRun) and either adopts the run's complete backup
// or removes what the run wrote, and nothing else.
type BackupRun struct {
	store   *Store
	backup  string
	id      string
	written []string
	// sealer encrypts the archive and the log; nil: they are stored plain.
	sealer Sealer
	// stored is the digest of the encrypted archive as uploaded.
	stored *arkv1.ArchiveInfo
}

// StartBackup begins writing the files of backup in the run id.
func (s *Store) StartBackup(backup, id string) *BackupRun {
	return &BackupRun{store: s, backup: backup, id: id}
}

// runMarker is the content of a run's marker file, for people reading the
// bucket: the backup, the run, and when it started.
type runMarker struct {
	Backup  string    `json:"backup"`
	Run     string    `json:"run"`
	Started time.Time `json:"started"`
}

// ExistingBackupError is returned by Claim when the bucket already holds
// files of a backup of the same name that this run did not write.
type ExistingBackupError struct {
	Backup string
	Files  BackupFiles
}

func (e *ExistingBackupError) Error() string {
	return fmt.Sprintf("the bucket already holds files of a backup named %q: %s", e.Backup, e.Files)
}

// Claim writes the run's marker, then checks that the backup's directory
// holds nothing but it. If anything else is there (an older backup of the
// same name, or a run of another cluster that started at the same moment),
// the run removes its marker and returns an *ExistingBackupError, having
// touched nothing else. Of two runs that claim at
// once, at most one goes on: each writes before it looks, so the later one
// always sees the earlier one's marker.
func (r *BackupRun) Claim(ctx context.Context, started time.Time) error {
	if r.id == "" {
		return fmt.Errorf("backup %q has no run ID", r.backup)
	}
	data, err := json.Marshal(runMarker{Backup: r.backup, Run: r.id, Started: started.UTC()})
	if err != nil {
		return err
	}
	if err := r.put(ctx, r.store.layout.runMarkerKey(r.backup, r.id), bytes.NewReader(data)); err != nil {
		return err
	}
	files, err := r.store.Files(ctx, r.backup)
	if err != nil {
		return err
	}
	files.Runs = slices.DeleteFunc(files.Runs, func(id string) bool { return id == r.id })
	if files.Any() {
		exists := &ExistingBackupError{Backup: r.backup, Files: files}
		if derr := r.Discard(ctx); derr != nil {
			return errors.Join(exists, derr)
		}
		return exists
	}
	return nil
}

func (r *BackupRun) put(ctx context.Context, key string, body io.Reader) error {
	// Recorded before the upload: a failed upload may still have left a
	// partial object (or a complete one, unacknowledged).
	if !slices.Contains(r.written, key) {
		r.written = append(r.written, key)
	}
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

// PutFailedLog stores the log of a run that failed, after Discard: it stays
// in the bucket, so `ark backup logs` says why the backup failed, until the
// backup is deleted.
func (r *BackupRun) PutFailedLog(ctx context.Context, gzipped io.Reader) error {
	body, _, err := r.seal(gzipped)
	if err != nil {
		return err
	}
	return r.store.objects.PutObject(ctx, r.store.bucket, r.store.layout.logKey(r.backup), body)
}

// PutMetadata writes the Backup object as the metadata file. It must come
// last: its presence marks a complete backup. The object's UID must be the
// run's ID, so a server that finds the file after a crash knows which run
// wrote it.
func (r *BackupRun) PutMetadata(ctx context.Context, b *arkv1.Backup) error {
	if b.Name != r.backup {
		return fmt.Errorf("metadata of backup %q written by the run of backup %q", b.Name, r.backup)
	}
	if string(b.UID) != r.id {
		return fmt.Errorf("metadata of backup %q with UID %q written by run %q", b.Name, b.UID, r.id)
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return r.put(ctx, r.store.layout.metadataKey(r.backup), bytes.NewReader(data))
}

// Finish removes the run's marker once the backup is complete. A marker
// that stays (this fails, or the server dies first) is harmless: the next
// server finds the metadata of this run beside it and adopts the backup.
func (r *BackupRun) Finish(ctx context.Context) error {
	key := r.store.layout.runMarkerKey(r.backup, r.id)
	if err := r.store.objects.DeleteObject(ctx, r.store.bucket, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	r.written = slices.DeleteFunc(r.written, func(k string) bool { return k == key })
	return nil
}

// Discard deletes what this run wrote, the metadata first so that nothing
// half-written is ever taken for a complete backup, and the marker last so
// that a Discard that stops half way is found again. What could not be
// deleted stays listed, so Discard can be called again.
func (r *BackupRun) Discard(ctx context.Context) error {
	order := slices.Clone(r.written)
	metadata, marker := r.store.layout.metadataKey(r.backup), r.store.layout.runMarkerKey(r.backup, r.id)
	rank := func(k string) int {
		switch k {
		case metadata:
			return 0
		case marker:
			return 2
		}
		return 1
	}
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	var errs []error
	var left []string
	for _, key := range order {
		if len(errs) > 0 && key == marker {
			// Keep the marker while other files remain, so the next server
			// still knows they are this run's.
			left = append(left, key)
			continue
		}
		if err := r.store.objects.DeleteObject(ctx, r.store.bucket, key); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", key, err))
			left = append(left, key)
		}
	}
	r.written = left
	return errors.Join(errs...)
}

// OpenRun finds in the bucket what the run id of backup left there, after
// the server running it stopped. complete is the backup's metadata when the
// run wrote it and the archive is there too: the backup is whole, only its
// status was never recorded. The returned run lists the files the run
// wrote (none when its marker is gone and the metadata is another run's),
// for Discard or Finish.
func (s *Store) OpenRun(ctx context.Context, backup, id string) (run *BackupRun, complete *arkv1.Backup, err error) {
	run = s.StartBackup(backup, id)
	files, err := s.Files(ctx, backup)
	if err != nil {
		return nil, nil, err
	}
	var stored *arkv1.Backup
	if files.Metadata {
		md, err := s.GetMetadata(ctx, backup)
		if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return nil, nil, err
		}
		if md != nil && string(md.UID) == id {
			stored = md
		}
	}
	marked := slices.Contains(files.Runs, id)
	if !marked && stored == nil {
		return run, nil, nil // nothing in the bucket is this run's
	}
	// The marker proves the run went on past its claim, so the archive and
	// log under this name are its own; so does metadata naming the run.
	othersMetadata := files.Metadata && stored == nil
	if files.Archive && !othersMetadata {
		run.written = append(run.written, s.layout.archiveKey(backup))
	}
	if files.Log && !othersMetadata {
		run.written = append(run.written, s.layout.logKey(backup))
	}
	if stored != nil {
		run.written = append(run.written, s.layout.metadataKey(backup))
	}
	if marked {
		run.written = append(run.written, s.layout.runMarkerKey(backup, id))
	}
	if stored != nil && files.Archive {
		return run, stored, nil
	}
	return run, nil, nil
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
