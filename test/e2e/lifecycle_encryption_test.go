package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// putEncryptionSecret creates or replaces the Secret of age identities.
func putEncryptionSecret(t *testing.T, env *harness.Env, name string, identities ...string) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: name},
		Data: map[string][]byte{"identities": []byte(strings.Join(identities, "\n") + "\n")}}
	if err := env.Client.Delete(ctx, s.DeepCopy()); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	if len(identities) == 0 {
		return
	}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycleEncryptionAndObjectLock, in a bucket created with object
// lock (GOVERNANCE, one day): an encrypted backup is ciphertext in the
// bucket (archive and log), restores with its key, downloads decrypted or
// raw; key rotation keeps old backups readable while the old key is
// listed; without the key a restore fails naming the Secret and the fix.
// Garbage collection keeps the expired, locked backup, and a deletion
// request ends at once saying why, deleting nothing.
func TestLifecycleEncryptionAndObjectLock(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{NoServer: true, ServerArgs: fastSyncArgs})
	ctx := context.Background()
	m := env.Cluster.MinIO
	s3c := harness.S3Client(m)
	env.Bucket = "locked"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(env.Bucket), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(env.Bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	oldKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	putEncryptionSecret(t, env, "ark-encryption", oldKey.String())
	cfg := harness.MinIOConfig(m.Endpoint, env.Bucket)
	cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
	cfg.Encryption = &arkv1.EncryptionConfig{SecretName: "ark-encryption"}
	env.ApplyConfig(cfg)
	env.StartServer()
	createAppNamespace(t, env, "enc-app", 3)

	// An encrypted backup that expires at once.
	mustBackup(t, env, "enc", "--include-namespaces", "enc-app", "--selector", "app=enc-app", "--ttl", "1s")
	b, err := getBackup(env, "enc")
	if err != nil {
		t.Fatal(err)
	}
	e, a := b.Status.Encryption, b.Status.Archive
	if e == nil || e.Format != "age" || e.Recipient != oldKey.Recipient().String() || e.SecretName != "ark-encryption" ||
		a == nil || a.PlaintextSHA256 == "" || a.PlaintextSHA256 == a.SHA256 || a.PlaintextSize == 0 {
		t.Fatalf("status of an encrypted backup: encryption %+v archive %+v", e, a)
	}
	// In the bucket: age files, not gzip; no plaintext of any item.
	for _, key := range []string{"enc/enc.tar.gz", "enc/enc-logs.gz"} {
		data := restoreBucketFile(t, env, key)
		if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) {
			t.Fatalf("%s is not an age file: %q", key, data[:min(len(data), 40)])
		}
		if _, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			t.Fatalf("%s reads as gzip", key)
		}
		for _, plain := range []string{"cm-0000", "enc-app", "hunter2", `"kind"`} {
			if bytes.Contains(data, []byte(plain)) {
				t.Fatalf("%s holds the plaintext %q", key, plain)
			}
		}
	}
	// Download: decrypted with the key file, or raw (the stored digest).
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	writeFile(t, keyFile, oldKey.String()+"\n")
	plainPath := filepath.Join(t.TempDir(), "enc.tar.gz")
	env.MustArk("backup", "download", "enc", "-o", plainPath, "--key-file", keyFile)
	if sum, size := fileSHA256(t, plainPath); sum != a.PlaintextSHA256 || size != a.PlaintextSize {
		t.Fatalf("decrypted download: sha256 %s size %d, status says %s %d", sum, size, a.PlaintextSHA256, a.PlaintextSize)
	}
	found := false
	for name := range tarEntries(t, plainPath) {
		found = found || strings.Contains(name, "cm-0000")
	}
	if !found {
		t.Fatal("the decrypted archive lacks configmap cm-0000")
	}
	rawPath := filepath.Join(t.TempDir(), "enc.tar.gz.age")
	env.MustArk("backup", "download", "enc", "-o", rawPath, "--raw")
	if sum, size := fileSHA256(t, rawPath); sum != a.SHA256 || size != a.Size {
		t.Fatalf("raw download: sha256 %s size %d, status says %s %d", sum, size, a.SHA256, a.Size)
	}
	if logs := env.MustArk("backup", "logs", "enc"); !strings.Contains(logs, "enc-app") {
		t.Fatalf("backup logs (decrypted with the Config's Secret):\n%s", logs)
	}

	// Restore with the key.
	r := restoreMustComplete(t, env, "enc-copy", "enc", 0, "--namespace-mappings", "enc-app:enc-copy")
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "enc-copy", Name: "cm-0002"}, &cm); err != nil || cm.Data["index"] != "2" {
		t.Fatalf("restored configmap: %v %+v (restore %+v)", err, cm.Data, r.Status)
	}

	// Rotation: a new key first, the old one kept.
	newKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	putEncryptionSecret(t, env, "ark-encryption", newKey.String(), oldKey.String())
	mustBackup(t, env, "enc2", "--include-namespaces", "enc-app", "--selector", "app=enc-app")
	b2, err := getBackup(env, "enc2")
	if err != nil || b2.Status.Encryption == nil || b2.Status.Encryption.Recipient != newKey.Recipient().String() {
		t.Fatalf("a backup after rotation: %v %+v", err, b2.Status.Encryption)
	}
	restoreMustComplete(t, env, "old-after-rotation", "enc", 0, "--namespace-mappings", "enc-app:enc-rot")

	// The old key dropped: the old backup fails, naming its key, the Secret
	// and the fix; the new one restores.
	putEncryptionSecret(t, env, "ark-encryption", newKey.String())
	_, r = restoreRun(t, env, "old-without-key", "enc", "--namespace-mappings", "enc-app:enc-nokey")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, oldKey.Recipient().String()) ||
		!strings.Contains(r.Status.FailureReason, "Secret heptio-ark/ark-encryption") || !strings.Contains(r.Status.FailureReason, "add that key back to the Secret") {
		t.Fatalf("restoring a backup whose key was dropped: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
	t.Logf("without its key: %s", r.Status.FailureReason)
	var nsObj corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "enc-nokey"}, &nsObj); err == nil {
		t.Fatal("a restore that could not decrypt created namespace enc-nokey")
	}
	restoreMustComplete(t, env, "new-with-key", "enc2", 0, "--namespace-mappings", "enc-app:enc-new")
	// No Secret at all.
	putEncryptionSecret(t, env, "ark-encryption")
	_, r = restoreRun(t, env, "no-secret", "enc2", "--namespace-mappings", "enc-app:enc-nosecret")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "heptio-ark/ark-encryption") ||
		!strings.Contains(r.Status.FailureReason, "does not exist: create it with") {
		t.Fatalf("restoring without the Secret: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
	if !strings.Contains(env.MustArk("backup", "describe", "enc2"), newKey.Recipient().String()) {
		t.Fatal("backup describe does not show the recipient of an encrypted backup")
	}

	// Object lock: "enc" expired long ago; GC sees it is retained and
	// leaves it, asking for no deletion.
	serverLogHas(env, "the bucket keeps it under retention", time.Minute)
	if reqs := deleteRequests(t, env, "enc"); len(reqs) != 0 {
		t.Fatalf("GC asked for the deletion of a locked backup: %+v", reqs)
	}
	// A deletion asked by hand ends at once, saying why; nothing goes.
	before := requireStoredBackup(t, env, m, "enc")
	env.MustArk("backup", "delete", "enc", "--confirm")
	req := waitProcessedRequest(env, "enc", time.Minute)
	msg := strings.Join(req.Status.Errors, "\n")
	if !strings.Contains(msg, "retained until") || !strings.Contains(msg, "GOVERNANCE") || !strings.Contains(msg, "nothing was deleted") {
		t.Fatalf("deletion of a locked backup: %+v", req.Status)
	}
	t.Logf("deletion of a locked backup: %s", msg)
	if after := requireStoredBackup(t, env, m, "enc"); !maps.Equal(after, before) {
		t.Fatalf("files of the locked backup: %v, then %v", sortedKeys(before), sortedKeys(after))
	}
	if b, err := getBackup(env, "enc"); err != nil || b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("the locked backup after its deletion was refused: %v %+v", err, b.Status.Phase)
	}
}
