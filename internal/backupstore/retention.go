package backupstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/heptio/ark/internal/objectstore"
)

// Retention is the longest retention of a backup's own files (archive,
// log, metadata) in a bucket with object lock or a retention policy: its
// files cannot be deleted while it holds. The zero Retention when the
// store keeps nothing under retention (or cannot tell).
func (s *Store) Retention(ctx context.Context, backup string) (objectstore.Retention, error) {
	rr, ok := s.objects.(objectstore.RetentionReader)
	if !ok {
		return objectstore.Retention{}, nil
	}
	var out objectstore.Retention
	for _, key := range []string{s.layout.metadataKey(backup), s.layout.archiveKey(backup), s.layout.logKey(backup)} {
		r, err := rr.ObjectRetention(ctx, s.bucket, key)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return objectstore.Retention{}, fmt.Errorf("reading the retention of %s: %w", key, err)
		}
		out.Hold = out.Hold || r.Hold
		if r.Until.After(out.Until) {
			out.Until, out.Mode = r.Until, r.Mode
		}
	}
	return out, nil
}
