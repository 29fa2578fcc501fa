// Package backupstore is the bucket of backups: it knows where each file of a
// backup lives (its Layout: Ark's own, or the read-only layouts of Heptio Ark
// v0.10–v0.11 and Velero) and reads and writes them through an
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
	"github.com/heptio/ark/internal/snapshot/local"
)

// Options are the Config's settings of a location besides its bucket.
type Options struct {
	// Prefix is the directory in the bucket that holds the backups
	// (backupStorageProvider.prefix); "" is the bucket's root. It must have
	// passed ValidatePrefix.
	Prefix string
	// AllowWritesAlongsideOtherTools lets Ark write into a location that
	// holds another tool's backups.
	AllowWritesAlongsideOtherTools bool
}

// Store is one location of backups: a bucket, and a prefix in it, whose
// backups may be in any of the layouts.
type Store struct {
	objects     objectstore.ObjectStore
	bucket      string
	root        string
	layouts     []Layout
	allowWrites bool
}

// New is the location's backups, in every layout.
func New(objects objectstore.ObjectStore, bucket string, opts Options) *Store {
	root := strings.Trim(opts.Prefix, "/")
	if root != "" {
		root += "/"
	}
	s := &Store{objects: objects, bucket: bucket, root: root, allowWrites: opts.AllowWritesAlongsideOtherTools}
	for _, l := range layouts {
		l.root = root
		s.layouts = append(s.layouts, l)
	}
	return s
}

// ValidatePrefix checks a storage prefix: a relative path of names, without
// empty, "." or ".." components. A trailing "/" is allowed.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("backupStorageProvider.prefix %q starts with \"/\": write it relative to the bucket, e.g. %q", prefix, strings.TrimLeft(prefix, "/"))
	}
	for _, part := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		switch {
		case part == "", part == ".", part == "..":
			return fmt.Errorf("backupStorageProvider.prefix %q has an empty, \".\" or \"..\" component: use names separated by single slashes, e.g. \"backups/cluster-a\"", prefix)
		case strings.ContainsAny(part, "\\\x00"), strings.IndexFunc(part, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
			return fmt.Errorf("backupStorageProvider.prefix %q contains a backslash or a control character: use letters, digits, '-', '_', '.' and '/'", prefix)
		}
	}
	return nil
}

// Bucket is the bucket's name, for messages.
func (s *Store) Bucket() string { return s.bucket }

// Location names the bucket and prefix, for messages.
func (s *Store) Location() string {
	if s.root == "" {
		return "bucket " + s.bucket
	}
	return fmt.Sprintf("bucket %s (prefix %q)", s.bucket, strings.TrimSuffix(s.root, "/"))
}

// LocalSnapshotsPrefix is the key prefix under which the local volume
// snapshotter keeps its snapshots in this location: local.DefaultPrefix
// under the location's prefix, so an Ark confined to a prefix (by choice, or
// by a bucket policy that lets it write there only) writes nothing outside
// it.
func (s *Store) LocalSnapshotsPrefix() string { return s.root + local.DefaultPrefix }

// MetadataFile is the name of the metadata file of Ark's own backups, for
// messages.
func (s *Store) MetadataFile() string { return ArkLayout.metadataFile }

// own is Ark's own layout under the location's prefix: the only one new
// backups, their run markers and recovery's clean-up ever write into.
func (s *Store) own() Layout { return s.layouts[0] }

// OwnRef is a backup of name in Ark's own layout.
func OwnRef(name string) Ref { return Ref{Name: name, Layout: arkv1.BackupLayoutArk} }

// Ref is a backup in the bucket: its name and the layout it lies in.
type Ref struct {
	Name string
	// Layout is a Layout's Name.
	Layout string
}

// RefOf is where a Backup object's files are: in the layout its origin
// records, else (a backup this Ark made) in Ark's own.
func RefOf(b *arkv1.Backup) Ref {
	if o := b.Status.Origin; o != nil && o.Layout != "" {
		return Ref{Name: b.Name, Layout: o.Layout}
	}
	return Ref{Name: b.Name, Layout: arkv1.BackupLayoutArk}
}

func (s *Store) layout(ref Ref) (Layout, error) {
	for _, l := range s.layouts {
		if l.Name == ref.Layout {
			return l, nil
		}
	}
	_, err := LayoutNamed(ref.Layout)
	return Layout{}, fmt.Errorf("backup %q: %w", ref.Name, err)
}

// ErrReadOnly is returned for a write into another tool's layout that the
// Config does not allow.
var ErrReadOnly = errors.New("the location is read-only for Ark")

// writable returns the layout of ref when Ark may write into it.
func (s *Store) writable(ref Ref) (Layout, error) {
	l, err := s.layout(ref)
	if err != nil {
		return l, err
	}
	if l.foreign && !s.allowWrites {
		return l, fmt.Errorf("backup %q was written by %s: %w (%s)", ref.Name, l.WrittenBy, ErrReadOnly, AllowWritesHint)
	}
	return l, nil
}

// AllowWritesHint says how to let Ark write into a location that holds
// another tool's backups.
const AllowWritesHint = "to let Ark write there, set backupStorageProvider.allowWritesAlongsideOtherTools: true in the Config ('kubectl -n heptio-ark edit config default')"

// GetArchive opens a backup's archive.
func (s *Store) GetArchive(ctx context.Context, ref Ref) (io.ReadCloser, error) {
	l, err := s.layout(ref)
	if err != nil {
		return nil, err
	}
	return s.objects.GetObject(ctx, s.bucket, l.archiveKey(ref.Name))
}

// ArchiveLocation names a backup's archive object, for messages that must
// say which object is damaged or missing.
func (s *Store) ArchiveLocation(ref Ref) string {
	l, err := s.layout(ref)
	if err != nil {
		return fmt.Sprintf("%s, backup %q in an unknown layout", s.Location(), ref.Name)
	}
	return fmt.Sprintf("bucket %s, object %s", s.bucket, l.archiveKey(ref.Name))
}

// PutRestorePlan stores a dry-run restore's plan, gzipped JSON, as `ark
// restore describe` reads it.
func (s *Store) PutRestorePlan(ctx context.Context, backup Ref, restore string, gzipped io.Reader) error {
	l, err := s.writable(backup)
	if err != nil {
		return err
	}
	return s.objects.PutObject(ctx, s.bucket, l.restorePlanKey(backup.Name, restore), gzipped)
}

// PutRestoreLog stores a restore's gzipped log.
func (s *Store) PutRestoreLog(ctx context.Context, backup Ref, restore string, gzipped io.Reader) error {
	l, err := s.writable(backup)
	if err != nil {
		return err
	}
	return s.objects.PutObject(ctx, s.bucket, l.restoreLogKey(backup.Name, restore), gzipped)
}

// PutRestoreResults stores a restore's warnings and errors, gzipped JSON, as
// `ark restore describe` reads them.
func (s *Store) PutRestoreResults(ctx context.Context, backup Ref, restore string, warnings, errs arkv1.RestoreResult) error {
	l, err := s.writable(backup)
	if err != nil {
		return err
	}
	data, err := EncodeRestoreResults(warnings, errs)
	if err != nil {
		return err
	}
	return s.objects.PutObject(ctx, s.bucket, l.restoreResultsKey(backup.Name, restore), bytes.NewReader(data))
}

// EncodeRestoreResults is the gzipped JSON of a restore's results,
// {"warnings": ..., "errors": ...}.
func EncodeRestoreResults(warnings, errs arkv1.RestoreResult) ([]byte, error) {
	data, err := json.Marshal(map[string]arkv1.RestoreResult{"warnings": warnings, "errors": errs})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// exists reports whether key is an object of the bucket, with a listing of
// that key alone (the interface has no HEAD).
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	keys, err := s.objects.ListObjects(ctx, s.bucket, key)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if k == key {
			return true, nil
		}
	}
	return false, nil
}

// ListBackups returns the backups whose metadata is in the location, in
// every layout, sorted by name. The metadata is written last, so these are
// the complete backups and those a deletion stopped half way (see Files). A
// name found in more than one layout is the backup of the first layout
// (Ark's own, then Velero's, then Heptio Ark v0.10's); the others are
// returned as shadowed, so the caller can say why they are not listed.
func (s *Store) ListBackups(ctx context.Context) (found, shadowed []Ref, err error) {
	seen := map[string]bool{}
	add := func(ref Ref) {
		if seen[ref.Name] {
			shadowed = append(shadowed, ref)
			return
		}
		seen[ref.Name] = true
		found = append(found, ref)
	}
	// Ark's own layout: a directory per backup right under the prefix. The
	// other tools' directories (backups/, restic/, kopia/ ...) are there too,
	// and are not backups unless they hold ark-backup.json themselves.
	ark := s.layouts[0]
	prefixes, err := s.objects.ListCommonPrefixes(ctx, s.bucket, s.root, "/")
	if err != nil {
		return nil, nil, err
	}
	for _, p := range prefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(p, s.root), "/")
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		ok, err := s.exists(ctx, ark.metadataKey(name))
		if err != nil {
			return nil, nil, err
		}
		if ok {
			add(Ref{Name: name, Layout: ark.Name})
		}
	}
	// The other layouts share backups/: one listing of it finds every
	// metadata file, instead of a request per backup.
	backupsDir := s.root + VeleroLayout.backupsDir
	keys, err := s.objects.ListObjects(ctx, s.bucket, backupsDir)
	if err != nil {
		return nil, nil, err
	}
	metadata := map[string]map[string]bool{}
	for _, k := range keys {
		name, file, ok := strings.Cut(strings.TrimPrefix(k, backupsDir), "/")
		if !ok || name == "" || strings.Contains(file, "/") {
			continue
		}
		if metadata[file] == nil {
			metadata[file] = map[string]bool{}
		}
		metadata[file][name] = true
	}
	for _, l := range s.layouts[1:] {
		names := make([]string, 0, len(metadata[l.metadataFile]))
		for n := range metadata[l.metadataFile] {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(Ref{Name: n, Layout: l.Name})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	return found, shadowed, nil
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

// backupFiles lists the objects right in a backup's directory. Deeper keys
// are never a backup's own: at the bucket's root, a backup named "backups"
// would otherwise take in every Velero backup.
func (s *Store) backupFiles(ctx context.Context, l Layout, backup string) ([]string, error) {
	dir := l.backupDir(backup)
	keys, err := s.objects.ListObjects(ctx, s.bucket, dir)
	if err != nil {
		return nil, err
	}
	own := keys[:0]
	for _, k := range keys {
		if !strings.Contains(strings.TrimPrefix(k, dir), "/") {
			own = append(own, k)
		}
	}
	return own, nil
}

// Files lists which of a backup's files the bucket holds.
func (s *Store) Files(ctx context.Context, ref Ref) (BackupFiles, error) {
	l, err := s.layout(ref)
	if err != nil {
		return BackupFiles{}, err
	}
	keys, err := s.backupFiles(ctx, l, ref.Name)
	if err != nil {
		return BackupFiles{}, err
	}
	var f BackupFiles
	for _, k := range keys {
		switch k {
		case l.metadataKey(ref.Name):
			f.Metadata = true
		case l.archiveKey(ref.Name):
			f.Archive = true
		case l.logKey(ref.Name):
			f.Log = true
		default:
			name := strings.TrimPrefix(k, l.backupDir(ref.Name))
			if id, ok := strings.CutPrefix(name, runMarkerPrefix); ok && strings.HasSuffix(id, runMarkerSuffix) && !strings.Contains(id, "/") {
				f.Runs = append(f.Runs, strings.TrimSuffix(id, runMarkerSuffix))
				continue
			}
			f.Other++
		}
	}
	return f, nil
}

// DeleteBackup removes every object of a backup's directory (archive, log,
// metadata, and in Ark's layout its restores' logs and results). The
// metadata goes last, so an interrupted delete leaves a backup sync still
// sees and a second delete finishes. Another tool's backup is deleted only
// when the Config allows writes alongside other tools; its restores'
// files, in that tool's restores/ directory, are left.
func (s *Store) DeleteBackup(ctx context.Context, ref Ref) error {
	l, err := s.writable(ref)
	if err != nil {
		return err
	}
	keys, err := s.backupFiles(ctx, l, ref.Name)
	if err != nil {
		return err
	}
	metadata := l.metadataKey(ref.Name)
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
	_, err := s.objects.ListCommonPrefixes(ctx, s.bucket, s.root, "/")
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
