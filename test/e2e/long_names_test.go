package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestLongNames takes backups named with 253 characters (the object name
// limit, far over the 63 of a label value) through every path a user has:
// create, restore, download, sync back after the Backup object is deleted,
// `ark backup delete`, and expiry by GC. Each used to break on the
// ark.heptio.com/backup-name label.
func TestLongNames(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, ServerArgs: fastSyncArgs})
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
	cfg.BackupSyncPeriod = metav1.Duration{Duration: time.Second}
	env.ApplyConfig(cfg)
	env.StartServer()
	m := env.Cluster.MinIO
	createAppNamespace(t, env, "app", 5)
	want := faultConfigMaps(t, env, "app")

	long := strings.Repeat("long-name-", 25) + "end" // 253
	if len(long) != 253 {
		t.Fatalf("name of %d characters", len(long))
	}
	mustBackup(t, env, long, "--include-namespaces", "app")
	// File names in the bucket are cut to 255 bytes (with a hash), so the
	// archive's key is not NAME/NAME.tar.gz.
	stored := bucketObjects(t, m, env.Bucket, long+"/")
	archives := 0
	for k := range stored {
		if strings.HasSuffix(k, ".tar.gz") {
			archives++
		}
	}
	if _, ok := stored[long+"/ark-backup.json"]; !ok || archives != 1 {
		t.Fatalf("bucket under the backup's name holds %v", sortedKeys(stored))
	}

	// Restore, with the name the CLI makes from the backup's.
	out := env.MustArk("restore", "create", "--from-backup", long, "--namespace-mappings", "app:app-long", "--wait")
	if !strings.Contains(out, ": Completed") {
		t.Fatalf("restore of the long-named backup:\n%s", out)
	}
	faultSameConfigMaps(t, "restore of the long-named backup", want, faultConfigMaps(t, env, "app-long"))

	// Download.
	file := filepath.Join(t.TempDir(), "data.tar.gz")
	env.MustArk("backup", "download", long, "-o", file)
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Fatalf("download: %v", err)
	}

	// Sync brings the Backup object back after kubectl deletes it.
	env.MustKubectl("-n", harness.Namespace, "delete", "backup", long)
	waitBackupPhase(env, long, time.Minute, arkv1.BackupPhaseCompleted)

	// ark backup delete removes it, with its restore and files.
	env.MustArk("backup", "delete", long, "--confirm")
	waitBackupGone(env, long, time.Minute)
	if left := bucketObjects(t, m, env.Bucket, long+"/"); len(left) != 0 {
		t.Fatalf("deleted backup's files remain: %v", sortedKeys(left))
	}

	// GC expires one.
	expiring := strings.Repeat("expiring-", 28) + "x" // 253
	// Long enough that --wait sees it Completed before GC (every second
	// here) deletes it, even on a loaded machine.
	mustBackup(t, env, expiring, "--include-namespaces", "app", "--ttl", "15s")
	waitBackupGone(env, expiring, time.Minute)
	if left := bucketObjects(t, m, env.Bucket, expiring+"/"); len(left) != 0 {
		t.Fatalf("expired backup's files remain: %v", sortedKeys(left))
	}
}
