package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestBackupVerification proves a backup before anyone needs it, through the
// real binary, server, cluster and MinIO: verify passes on a fresh backup
// (the CLI, the server's read-back after upload, and --file with no cluster
// at all); then the archive in the bucket is damaged three ways behind Ark's
// back (one byte flipped, one item replaced and re-indexed, the object
// deleted), and each time both `ark backup verify` and the server's periodic
// verification fail, naming the problem, in the Verified condition, get,
// describe, the server's log and the metrics.
func TestBackupVerification(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{ServerArgs: []string{"--min-sync-period", "1s"}})
	ctx := context.Background()
	createAppNamespace(t, env, "vf-app", 3)
	mustBackup(t, env, "vf-backup", "--include-namespaces", "vf-app")

	// The server reads every new backup back once and verifies it.
	verified := waitVerified(t, env, "vf-backup", metav1.ConditionTrue, "Verified")
	if verified.Status.LastVerified == nil || !strings.Contains(meta.FindStatusCondition(verified.Status.Conditions, arkv1.BackupConditionVerified).Message, "passed every check") {
		t.Fatalf("Verified condition after upload: %+v", verified.Status)
	}
	if out := env.MustArk("backup", "describe", "vf-backup"); !strings.Contains(out, "Verified:  yes (Verified)") {
		t.Errorf("describe does not say the backup is verified:\n%s", out)
	}

	// The CLI: table and JSON.
	out := env.MustArk("backup", "verify", "vf-backup")
	for _, want := range []string{"Backup:    vf-backup", "archive digest", "index", "objects", "resource counts",
		"Verified: the archive is the one the backup wrote, and every item in it is intact."} {
		if !strings.Contains(out, want) {
			t.Errorf("verify lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Verified  bool   `json:"verified"`
		Items     int    `json:"items"`
		SHA256    string `json:"sha256"`
		Reason    string `json:"reason"`
		Problems  []string
		Resources int `json:"resources"`
	}
	if err := json.Unmarshal([]byte(env.MustArk("backup", "verify", "vf-backup", "-o", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	// The namespace, 3 config maps + kube-root-ca.crt, the secret, the
	// service, the default service account (when it was there), ...: at
	// least 6 items, and the digest the backup recorded.
	if !rep.Verified || rep.Items < 6 || rep.SHA256 != verified.Status.Archive.SHA256 {
		t.Fatalf("verify -o json: %+v, backup recorded %s", rep, verified.Status.Archive.SHA256)
	}

	// --file with no kubeconfig at all: the downloaded archive against the
	// backup's own metadata.
	path := restoreDownload(t, env, "vf-backup")
	metaPath := filepath.Join(t.TempDir(), "ark-backup.json")
	if err := os.WriteFile(metaPath, restoreBucketFile(t, env, layoutMetadataKey("vf-backup")), 0o600); err != nil {
		t.Fatal(err)
	}
	noCluster := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none")}
	res := env.ArkWithEnv(noCluster, "backup", "verify", "--file", path, "--metadata", metaPath)
	if res.Err != nil || !strings.Contains(res.Stdout, "Verified: the archive is the one the backup wrote") {
		t.Fatalf("verify --file with no cluster: %v\n%s", res.Err, res.Output())
	}

	// From now on the server re-verifies every few seconds.
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.BackupVerificationPeriod = metav1.Duration{Duration: 2 * time.Second}
	env.ApplyConfig(cfg)

	key := layoutArchiveKey("vf-backup")
	original := restoreBucketFile(t, env, key)
	damage := []struct {
		name, reason string
		apply        func()
		// cli and server are what the CLI's output and the condition's
		// message must say.
		cli, server []string
	}{
		{
			name: "one byte flipped", reason: "DigestMismatch",
			apply: func() {
				flipped := bytes.Clone(original)
				flipped[len(flipped)/2] ^= 0x01
				restorePutBucketFile(t, env, key, flipped)
			},
			cli:    []string{"failed verification (DigestMismatch)", "but the backup recorded " + verified.Status.Archive.SHA256},
			server: []string{"but the backup recorded " + verified.Status.Archive.SHA256},
		},
		{
			name: "an item replaced and re-indexed", reason: "DigestMismatch",
			apply: func() { restorePutBucketFile(t, env, key, verifyReplaceItem(t, original)) },
			// The archive is well-formed and its index matches, so the
			// digest tells it, and the object check names the item.
			cli:    []string{"failed verification (DigestMismatch)", `holds ConfigMap "impostor", not "cm-0001" as its path says`},
			server: []string{"but the backup recorded " + verified.Status.Archive.SHA256},
		},
		{
			name: "the archive deleted", reason: "ArchiveMissing",
			apply: func() {
				if _, err := harness.S3Client(env.Cluster.MinIO).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(key)}); err != nil {
					t.Fatal(err)
				}
			},
			cli:    []string{"failed verification (ArchiveMissing)", "is not in object storage"},
			server: []string{"is not in object storage", key},
		},
	}
	for _, d := range damage {
		// Back to the intact archive, verified again, then the damage.
		restorePutBucketFile(t, env, key, original)
		waitVerified(t, env, "vf-backup", metav1.ConditionTrue, "Verified")
		d.apply()

		res := env.Ark("backup", "verify", "vf-backup")
		if res.Err == nil {
			t.Fatalf("%s: verify passed:\n%s", d.name, res.Output())
		}
		for _, want := range d.cli {
			if !strings.Contains(res.Output(), want) {
				t.Errorf("%s: verify output lacks %q:\n%s", d.name, want, res.Output())
			}
		}
		b := waitVerified(t, env, "vf-backup", metav1.ConditionFalse, d.reason)
		msg := meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionVerified).Message
		for _, want := range d.server {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: the Verified condition's message lacks %q: %s", d.name, want, msg)
			}
		}
		if out := env.MustArk("backup", "describe", "vf-backup"); !strings.Contains(out, "Verified:  NO ("+d.reason+")") {
			t.Errorf("%s: describe does not say %s:\n%s", d.name, d.reason, out)
		}
		get := env.MustArk("backup", "get", "vf-backup")
		if !strings.Contains(get, "VERIFIED") || !strings.Contains(get, "NO: "+d.reason) {
			t.Errorf("%s: get does not show the failed verification:\n%s", d.name, get)
		}
	}
	serverLogHas(env, "backup verification failed: do not rely on this backup", 10*time.Second)
	logs := env.ServerLog()
	for _, want := range []string{"vf-backup", key, "DigestMismatch", "ArchiveMissing"} {
		if !strings.Contains(logs, want) {
			t.Errorf("server log lacks %q", want)
		}
	}

	metrics := verifyMetrics(t, env)
	for _, want := range []string{`ark_backup_verification_total{result="failed"}`, `ark_backup_verification_total{result="passed"}`, "ark_backup_last_verification_timestamp_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
}

// waitVerified waits until the backup's Verified condition has status and
// reason, and returns the backup.
func waitVerified(t *testing.T, env *harness.Env, name string, status metav1.ConditionStatus, reason string) *arkv1.Backup {
	t.Helper()
	var b *arkv1.Backup
	env.Eventually(2*time.Minute, fmt.Sprintf("backup %s Verified=%s (%s)", name, status, reason), func() (bool, error) {
		var err error
		if b, err = getBackup(env, name); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(b.Status.Conditions, arkv1.BackupConditionVerified)
		return c != nil && c.Status == status && c.Reason == reason, nil
	})
	return b
}

// verifyReplaceItem rewrites a backup archive with Ark's own writer (so its
// index matches) where config map cm-0001 holds an object named impostor.
func verifyReplaceItem(t *testing.T, original []byte) []byte {
	t.Helper()
	r, err := archive.NewReader(bytes.NewReader(original), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := archive.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	replaced := false
	for {
		item, data, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if item.Resource == "configmaps" && item.Name == "cm-0001" {
			data = bytes.Replace(data, []byte(`"name":"cm-0001"`), []byte(`"name":"impostor"`), 1)
			replaced = true
		}
		if err := w.Add(item, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !replaced {
		t.Fatal("the archive has no cm-0001 to replace")
	}
	return out.Bytes()
}

// verifyMetrics reads the server's /metrics.
func verifyMetrics(t *testing.T, env *harness.Env) string {
	t.Helper()
	resp, err := http.Get("http://" + env.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
