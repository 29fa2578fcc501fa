package backupstore

import (
	"context"
	"fmt"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// DownloadTarget is a file a user may download: a backup's archive or log,
// or a restore's log or results (which belong to the restore's backup).
type DownloadTarget struct {
	Kind    arkv1.DownloadTargetKind
	Backup  Ref
	Restore string
}

// SignedURL returns a URL from which the target can be downloaded for ttl.
func (s *Store) SignedURL(ctx context.Context, t DownloadTarget, ttl time.Duration) (string, error) {
	l, err := s.layout(t.Backup)
	if err != nil {
		return "", err
	}
	var key string
	switch t.Kind {
	case arkv1.DownloadTargetKindBackupLog:
		key = l.logKey(t.Backup.Name)
	case arkv1.DownloadTargetKindBackupContents:
		key = l.archiveKey(t.Backup.Name)
	case arkv1.DownloadTargetKindRestoreLog:
		key = l.restoreLogKey(t.Backup.Name, t.Restore)
	case arkv1.DownloadTargetKindRestoreResults:
		key = l.restoreResultsKey(t.Backup.Name, t.Restore)
	case arkv1.DownloadTargetKindRestorePlan:
		key = l.restorePlanKey(t.Backup.Name, t.Restore)
	default:
		return "", fmt.Errorf("unknown download target kind %q: use BackupLog, BackupContents, RestoreLog, RestoreResults or RestorePlan", t.Kind)
	}
	return s.objects.CreateSignedURL(ctx, s.bucket, key, ttl)
}
