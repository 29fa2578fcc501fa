package backupstore

// Layout says where each file of a backup and of its restores lives in a
// bucket. It is a value, not a branch in every caller: the Store builds every
// key through its Layout, so supporting another tool's bucket is one more
// Layout.
type Layout struct {
	// Name is what the layout is called in messages ("ark").
	Name string
	// backupsDir is the directory of the backups' directories: "" for the
	// bucket's root, else "<dir>/".
	backupsDir string
	// metadataFile is the name of a backup's metadata object, written last.
	metadataFile string
	// restoresDir is where restores keep their files: "" means beside their
	// backup's, else "<dir>/<restore>/".
	restoresDir string
}

// ArkLayout is the layout of Heptio Ark up to v0.9, which this Ark writes:
//
//	<backup>/ark-backup.json            the Backup object, status included; written last
//	<backup>/<backup>.tar.gz            the archive
//	<backup>/<backup>-logs.gz           the backup log
//	<backup>/restore-<restore>-logs.gz
//	<backup>/restore-<restore>-results.gz
//	<backup>/restore-<restore>-plan.gz   the plan of a dry-run restore
var ArkLayout = Layout{Name: "ark", metadataFile: "ark-backup.json"}

func (l Layout) backupDir(backup string) string { return l.backupsDir + backup + "/" }

func (l Layout) metadataKey(backup string) string { return l.backupDir(backup) + l.metadataFile }

func (l Layout) archiveKey(backup string) string { return l.backupDir(backup) + backup + ".tar.gz" }

func (l Layout) logKey(backup string) string { return l.backupDir(backup) + backup + "-logs.gz" }

func (l Layout) restoreDir(backup, restore string) string {
	if l.restoresDir == "" {
		return l.backupDir(backup)
	}
	return l.restoresDir + restore + "/"
}

func (l Layout) restoreLogKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + "restore-" + restore + "-logs.gz"
}

func (l Layout) restoreResultsKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + "restore-" + restore + "-results.gz"
}

func (l Layout) restorePlanKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + "restore-" + restore + "-plan.gz"
}
