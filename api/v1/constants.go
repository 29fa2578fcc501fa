package v1

const (
	// DefaultNamespace is where the server, its Config and its resources live.
	DefaultNamespace = "heptio-ark"
	// DefaultConfigName is the name of the one Config the server reads.
	DefaultConfigName = "default"

	// ScheduleNameLabel is set on every Backup a Schedule creates.
	ScheduleNameLabel = "ark-schedule"
	// RestoreNameLabel is set on every object a Restore creates.
	RestoreNameLabel = "ark-restore"
	// BackupNameLabel is set on Restores and DeleteBackupRequests of a backup.
	BackupNameLabel = "ark.heptio.com/backup-name"

	// LegacyGCFinalizer is the finalizer Ark v0.7 put on Backups. This Ark
	// never adds it and removes it where it finds it, so nothing hangs.
	LegacyGCFinalizer = "gc.ark.heptio.com"

	// ExcludeFromBackupLabel, with the value "true", keeps an object out of
	// every backup, even when a pod or claim would pull it in.
	ExcludeFromBackupLabel = "ark.heptio.com/exclude-from-backup"

	// CatchUpAnnotation, with the value "true" on a paused Schedule, asks for
	// one catch-up backup, for the most recent run time missed while it was
	// paused, when it is unpaused (ark schedule unpause --catch-up). The
	// server removes it once it has acted on it.
	CatchUpAnnotation = "ark.heptio.com/catch-up"

	// FromStorageAnnotation marks a Backup object created from its
	// ark-backup.json (backup sync, or a restore of a backup the cluster did
	// not have). Such an object is created without status and gets it a
	// moment later; the backup reconciler must never take it for a new
	// backup to run, which would overwrite the stored one.
	FromStorageAnnotation = "ark.heptio.com/from-object-storage"

	// VeleroOrLabelSelectorsAnnotation records, on a Backup synced from a
	// Velero bucket, the backup's orLabelSelectors, which an Ark Backup spec
	// cannot express.
	VeleroOrLabelSelectorsAnnotation = "ark.heptio.com/velero-or-label-selectors"
)
