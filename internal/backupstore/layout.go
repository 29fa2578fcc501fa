package backupstore

import (
	"crypto/sha256"
	"encoding/hex"
)

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
//
// A file name longer than 255 bytes (a backup or restore name of more than
// 246 characters) is shortened: see fileName.
var ArkLayout = Layout{Name: "ark", metadataFile: "ark-backup.json"}

func (l Layout) backupDir(backup string) string { return l.backupsDir + backup + "/" }

func (l Layout) metadataKey(backup string) string { return l.backupDir(backup) + l.metadataFile }

func (l Layout) archiveKey(backup string) string {
	return l.backupDir(backup) + fileName("", backup, ".tar.gz")
}

func (l Layout) logKey(backup string) string {
	return l.backupDir(backup) + fileName("", backup, "-logs.gz")
}

// runMarkerKey is the marker of a backup run under way (see BackupRun):
// <backup>/ark-run-<id>.json. Ark writes it only; other layouts have none.
func (l Layout) runMarkerKey(backup, id string) string {
	return l.backupDir(backup) + runMarkerPrefix + id + runMarkerSuffix
}

const runMarkerPrefix, runMarkerSuffix = "ark-run-", ".json"

func (l Layout) restoreDir(backup, restore string) string {
	if l.restoresDir == "" {
		return l.backupDir(backup)
	}
	return l.restoresDir + restore + "/"
}

func (l Layout) restoreLogKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + fileName("restore-", restore, "-logs.gz")
}

func (l Layout) restoreResultsKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + fileName("restore-", restore, "-results.gz")
}

// maxFileName is the longest name of one path segment that every store
// keeps: NAME_MAX of Linux filesystems, which the filesystem store and
// MinIO (one directory per segment) are bound by.
const maxFileName = 255

// fileName is prefix+name+suffix, the file name Heptio Ark gave a backup's
// or restore's file. Names go up to 253 characters, so that can exceed
// maxFileName; then name is cut and followed by '-' and 16 hex digits of its
// SHA-256, so the file name stays unique and within the limit. Every name
// that fits keeps Heptio Ark's file name, so older buckets read the same.
func fileName(prefix, name, suffix string) string {
	if len(prefix)+len(name)+len(suffix) <= maxFileName {
		return prefix + name + suffix
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:16]
	keep := maxFileName - len(prefix) - len(suffix) - len(hash) - 1
	return prefix + name[:keep] + "-" + hash + suffix
}

func (l Layout) restorePlanKey(backup, restore string) string {
	return l.restoreDir(backup, restore) + fileName("restore-", restore, "-plan.gz")
}
