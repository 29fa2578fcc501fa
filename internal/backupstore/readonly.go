package backupstore

import (
	"context"
	"fmt"
	"strings"
)

// otherToolsDirs are the directories Heptio Ark v0.10–v0.11 and Velero keep
// under their prefix. Each holds subdirectories (one per backup, restore or
// namespace), which a backup directory of Ark's own layout never has: so a
// subdirectory in any of them marks another tool's location, even one whose
// backups are all gone.
var otherToolsDirs = []string{"backups/", "restores/", "restic/", "kopia/"}

// otherToolsRevision is the object Velero (and Heptio Ark v0.10) rewrite
// whenever their backups change.
const otherToolsRevision = "metadata/revision"

// ReadOnlyReason says why Ark must not write into this location, or "" when
// it may. A location that holds another tool's files is read-only for Ark
// (sync, restores and downloads read it; nothing is written or deleted)
// unless the Config sets allowWritesAlongsideOtherTools. It costs a few
// listings, so callers ask once per operation.
func (s *Store) ReadOnlyReason(ctx context.Context) (string, error) {
	if s.allowWrites {
		return "", nil
	}
	for _, dir := range otherToolsDirs {
		subdirs, err := s.objects.ListCommonPrefixes(ctx, s.bucket, s.root+dir, "/")
		if err != nil {
			return "", err
		}
		if len(subdirs) == 0 {
			continue
		}
		what := "another tool's files (" + subdirs[0] + ")"
		if dir == "backups/" {
			what = s.describeBackupDir(ctx, subdirs[0])
		}
		return s.readOnly(what), nil
	}
	ok, err := s.exists(ctx, s.root+otherToolsRevision)
	if err != nil {
		return "", err
	}
	if ok {
		return s.readOnly("Velero's or Heptio Ark v0.10's " + s.root + otherToolsRevision), nil
	}
	return "", nil
}

// describeBackupDir names the tool whose backup directory dir is.
func (s *Store) describeBackupDir(ctx context.Context, dir string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(dir, s.root+"backups/"), "/")
	for _, l := range s.layouts[1:] {
		if ok, err := s.exists(ctx, l.metadataKey(name)); err == nil && ok {
			return fmt.Sprintf("backups written by %s (%s)", l.WrittenBy, l.metadataKey(name))
		}
	}
	return "another tool's backup directories (" + dir + ")"
}

func (s *Store) readOnly(what string) string {
	return fmt.Sprintf("%s holds %s, so it is read-only for Ark: Ark reads and restores those backups but writes nothing there", s.Location(), what)
}
