package backupstore

import (
	"strings"
	"testing"
)

// Names go up to 253 characters; every file name in the bucket must stay
// within the 255 bytes a path segment may have on disk (the filesystem
// store, MinIO), and two names must never share a file.
func TestLayoutKeysOfLongNamesFitOnDisk(t *testing.T) {
	l := ArkLayout
	if got := l.archiveKey("nginx-backup"); got != "nginx-backup/nginx-backup.tar.gz" {
		t.Errorf("archive key %q changed for a short name", got)
	}
	if got := l.restoreResultsKey("b", "r"); got != "b/restore-r-results.gz" {
		t.Errorf("results key %q changed for a short name", got)
	}
	seen := map[string]string{}
	for _, n := range []int{200, 236, 237, 247, 248, 252, 253} {
		for _, variant := range []string{"a", "b"} {
			name := strings.Repeat("x", n-1) + variant
			keys := []string{l.archiveKey(name), l.logKey(name), l.metadataKey(name),
				l.restoreLogKey(name, name), l.restoreResultsKey(name, name)}
			for _, k := range keys {
				for _, seg := range strings.Split(k, "/") {
					if len(seg) > maxFileName {
						t.Errorf("key of a %d-character name has a %d-byte segment: %s", n, len(seg), seg)
					}
				}
				if other, dup := seen[k]; dup {
					t.Errorf("key %s used twice (%s)", k, other)
				}
				seen[k] = name
				if !strings.HasPrefix(k, name+"/") {
					t.Errorf("key %s is not in the backup's directory", k)
				}
			}
		}
	}
}
