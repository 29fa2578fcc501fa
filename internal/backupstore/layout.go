package backupstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Layout says where each file of a backup and of its restores lives in a
// bucket. It is a value, not a branch in every caller: the Store builds every
// key through a Layout, and supporting another tool's bucket is one more
// Layout.
type Layout struct {
	// Name is the layout's name, as Backup status.origin.layout records it.
	Name string
	// WrittenBy names the tool whose layout this is, for people.
	WrittenBy string
	// root is the storage prefix: "" for the bucket's root, else
	// "<prefix>/". Set by the Store.
	root string
	// backupsDir is the directory of the backups' directories, under root:
	// "" for root itself, else "<dir>/".
	backupsDir string
	// metadataFile is the name of a backup's metadata object, written last.
	metadataFile string
	// restoresDir is where restores keep their files, under root: ""
	// means beside their backup's, else "<dir>/<restore>/".
	restoresDir string
	// foreign is true for the layouts of other tools, which Ark reads but
	// writes into only when the Config allows it.
	foreign bool
}

// ArkLayout is the layout of Heptio Ark up to v0.9, which this Ark writes:
//
//	[<prefix>/]<backup>/ark-backup.json            the Backup object, status included; written last
//	[<prefix>/]<backup>/<backup>.tar.gz            the archive
//	[<prefix>/]<backup>/<backup>-logs.gz           the backup log
//	[<prefix>/]<backup>/ark-run-<id>.json          the marker of a run under way (see BackupRun)
//	[<prefix>/]<backup>/restore-<restore>-logs.gz
//	[<prefix>/]<backup>/restore-<restore>-results.gz
//	[<prefix>/]<backup>/restore-<restore>-plan.gz  the plan of a dry-run restore
//
// A file name longer than 255 bytes (a backup or restore name of more than
// 246 characters) is shortened: see fileName.
var ArkLayout = Layout{Name: arkv1.BackupLayoutArk, WrittenBy: "Ark", metadataFile: "ark-backup.json"}

// VeleroLayout is the layout of Velero 1.x (a BackupStorageLocation with
// its optional prefix):
//
//	[<prefix>/]backups/<backup>/velero-backup.json     a velero.io/v1 Backup
//	[<prefix>/]backups/<backup>/<backup>.tar.gz
//	[<prefix>/]backups/<backup>/<backup>-logs.gz
//	[<prefix>/]backups/<backup>/<backup>-volumesnapshots.json.gz   native volume snapshots
//	[<prefix>/]backups/<backup>/<backup>-podvolumebackups.json.gz  file-system (restic/kopia) volume backups
//	[<prefix>/]restores/<restore>/restore-<restore>-logs.gz
//	[<prefix>/]restores/<restore>/restore-<restore>-results.gz
//
// besides restic/, kopia/, metadata/revision and plugins/, which Ark never
// reads.
var VeleroLayout = Layout{Name: arkv1.BackupLayoutVelero, WrittenBy: "Velero", backupsDir: "backups/",
	metadataFile: "velero-backup.json", restoresDir: "restores/", foreign: true}

// ArkV010Layout is the layout of Heptio Ark v0.10–v0.11: Velero's, with
// ark-backup.json (an ark.heptio.com/v1 Backup) as the metadata file.
var ArkV010Layout = Layout{Name: arkv1.BackupLayoutArkV010, WrittenBy: "Heptio Ark v0.10–v0.11", backupsDir: "backups/",
	metadataFile: "ark-backup.json", restoresDir: "restores/", foreign: true}

// layouts are every layout, in the order a backup's name is looked up: a
// name in two layouts is the backup of the first. Velero comes before Heptio
// Ark v0.10 because both share a directory, and Velero's metadata is the
// newer when a backup has both.
var layouts = []Layout{ArkLayout, VeleroLayout, ArkV010Layout}

// LayoutNamed returns the layout a Backup's status.origin.layout names.
func LayoutNamed(name string) (Layout, error) {
	for _, l := range layouts {
		if l.Name == name {
			return l, nil
		}
	}
	return Layout{}, fmt.Errorf("unknown bucket layout %q: this Ark knows %s, %s and %s", name, arkv1.BackupLayoutArk, arkv1.BackupLayoutVelero, arkv1.BackupLayoutArkV010)
}

// Foreign reports whether the layout is another tool's.
func (l Layout) Foreign() bool { return l.foreign }

func (l Layout) backupDir(backup string) string { return l.root + l.backupsDir + backup + "/" }

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

func (l Layout) volumeSnapshotsKey(backup string) string {
	return l.backupDir(backup) + backup + "-volumesnapshots.json.gz"
}

func (l Layout) podVolumeBackupsKey(backup string) string {
	return l.backupDir(backup) + backup + "-podvolumebackups.json.gz"
}

func (l Layout) restoreDir(backup, restore string) string {
	if l.restoresDir == "" {
		return l.backupDir(backup)
	}
	return l.root + l.restoresDir + restore + "/"
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
