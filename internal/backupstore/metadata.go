package backupstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
)

// maxMetadataSize bounds what is read of a metadata file, so a hostile
// bucket cannot exhaust memory.
const maxMetadataSize = 8 << 20

// WrittenByHeptioArk7 is the origin of a backup in Ark's own layout that
// records no archive digest: Heptio Ark up to v0.9 wrote those (this Ark
// always records one).
const WrittenByHeptioArk7 = "Heptio Ark v0.7–v0.9"

// GetMetadata reads a backup's metadata in its layout, as an
// ark.heptio.com/v1 Backup whose status.origin says where it came from.
// Another tool's Backup is converted (see convert.go). A backup that is not
// there returns an error wrapping objectstore.ErrNotFound.
func (s *Store) GetMetadata(ctx context.Context, ref Ref) (*arkv1.Backup, error) {
	l, err := s.layout(ref)
	if err != nil {
		return nil, err
	}
	key := l.metadataKey(ref.Name)
	data, err := s.readAll(ctx, key, maxMetadataSize)
	if err != nil {
		return nil, err
	}
	var b *arkv1.Backup
	var notes []string
	if l.Name == arkv1.BackupLayoutVelero {
		b, notes, err = convertVeleroBackup(data)
	} else {
		b, err = decodeArkBackup(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid %s Backup: %w", key, l.WrittenBy, err)
	}
	if b.Name != ref.Name {
		return nil, fmt.Errorf("%s names backup %q, not %q: the bucket's layout was changed by hand", key, b.Name, ref.Name)
	}
	origin := &arkv1.BackupOrigin{Layout: l.Name, WrittenBy: l.WrittenBy}
	if l.Name == arkv1.BackupLayoutArk && b.Status.Archive == nil {
		origin.WrittenBy = WrittenByHeptioArk7
	}
	if l.foreign {
		if err := checkFinished(b); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		volumeNotes, err := s.readVolumeRecords(ctx, l, b)
		if err != nil {
			return nil, err
		}
		origin.Notes = append(notes, volumeNotes...)
	}
	b.Status.Origin = origin
	if err := makeStorable(b, key); err != nil {
		return nil, err
	}
	return b, nil
}

// FindMetadata looks a backup up by name in every layout, in the order of
// ListBackups, so a name resolves to the backup sync shows.
func (s *Store) FindMetadata(ctx context.Context, name string) (*arkv1.Backup, error) {
	for _, l := range s.layouts {
		b, err := s.GetMetadata(ctx, Ref{Name: name, Layout: l.Name})
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		return b, err
	}
	return nil, fmt.Errorf("backup %q is not in %s in any layout: %w", name, s.Location(), objectstore.ErrNotFound)
}

// readAll reads an object of at most limit bytes.
func (s *Store) readAll(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := s.objects.GetObject(ctx, s.bucket, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: it is not a backup's metadata", key, limit)
	}
	return data, nil
}

// decodeArkBackup reads the ark-backup.json of Heptio Ark (any version) or
// of this Ark.
func decodeArkBackup(data []byte) (*arkv1.Backup, error) {
	var b arkv1.Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if b.APIVersion != "" && b.APIVersion != arkv1.SchemeGroupVersion.String() || b.Kind != "" && b.Kind != "Backup" {
		return nil, fmt.Errorf("it is a %s %s, not an %s Backup", b.APIVersion, b.Kind, arkv1.SchemeGroupVersion)
	}
	return &b, nil
}
