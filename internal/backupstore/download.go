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
	Backup  string
	Restore string
}

// SignedURL returns a URL from which the target can be downloaded for ttl.
func (s *Store) SignedURL(ctx context.Context, t DownloadTarget, ttl time.Duration) (string, error) {
	var key string
	switch t.Kind {
	case arkv1.DownloadTargetKindBackupLog:
		key = s.layout.logKey(t.Backup)
	case arkv1.DownloadTargetKindBackupContents:
		key = s.layout.archiveKey(t.Backup)
	case arkv1.DownloadTargetKindRestoreLog:
		key = s.layout.restoreLogKey(t.Backup, t.Restore)
	case arkv1.DownloadTargetKindRestoreResults:
		key = s.layout.restoreResultsKey(t.Backup, t.Restore)
	case arkv1.DownloadTargetKindRestorePlan:
		key = s.layout.restorePlanKey(t.Backup, t.Restore)
	default:
		return "", fmt.Errorf("unknown download target kind %q: use BackupLog, BackupContents, RestoreLog, RestoreResults or RestorePlan", t.Kind)
	}
	return s.objects.CreateSignedURL(ctx, s.bucket, key, ttl)
}
