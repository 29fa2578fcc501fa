package settings

import (
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// MinPeriod is the shortest period a Config may set (Heptio Ark's floor of
// one minute); the server's hidden --min-sync-period lowers it for tests.
var MinPeriod = time.Minute

// BackupSyncPeriod is how often the bucket is synced, by default hourly.
func BackupSyncPeriod(cfg *arkv1.Config) time.Duration {
	return period(cfg.BackupSyncPeriod.Duration, time.Hour)
}

// GCSyncPeriod is how often expired backups are collected, by default hourly.
func GCSyncPeriod(cfg *arkv1.Config) time.Duration {
	return period(cfg.GCSyncPeriod.Duration, time.Hour)
}

// ScheduleSyncPeriod is how often schedules are looked at, by default every
// minute.
func ScheduleSyncPeriod(cfg *arkv1.Config) time.Duration {
	return period(cfg.ScheduleSyncPeriod.Duration, time.Minute)
}

// DefaultBackupVerificationPeriod is how often every backup is verified
// again when the Config does not say: weekly.
const DefaultBackupVerificationPeriod = 7 * 24 * time.Hour

// BackupVerificationPeriod is how often each finished backup's archive is
// read back and verified again, by default weekly.
func BackupVerificationPeriod(cfg *arkv1.Config) time.Duration {
	return period(cfg.BackupVerificationPeriod.Duration, DefaultBackupVerificationPeriod)
}

func period(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	if d < MinPeriod {
		return MinPeriod
	}
	return d
}
