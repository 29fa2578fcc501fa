package settings

import (
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/retention"
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

// DefaultBackupTTL is Heptio Ark's TTL of a backup whose spec sets none, the
// default of the server's --default-backup-ttl.
const DefaultBackupTTL = retention.DefaultTTL

// BackupTTL is how long a backup whose spec sets no ttl is kept: the
// Config's defaultBackupTTL when set (it can change without a restart), else
// the server's --default-backup-ttl (serverDefault), else DefaultBackupTTL.
func BackupTTL(cfg *arkv1.Config, serverDefault time.Duration) time.Duration {
	switch {
	case cfg != nil && cfg.DefaultBackupTTL.Duration > 0:
		return cfg.DefaultBackupTTL.Duration
	case serverDefault > 0:
		return serverDefault
	}
	return DefaultBackupTTL
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
