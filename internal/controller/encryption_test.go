package controller

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/encryption"
)

// An encrypted backup: the archive and the log are age files in the
// bucket, the status records the recipient and both digests; it restores
// with the key, and without it (a rotated-away key, a deleted Secret) the
// restore fails naming the Secret. A backup whose Secret is missing fails
// validation saying how to create it.
func TestEncryptedBackupAndRestore(t *testing.T) {
	e := newReconcilerEnv(t)
	ctx := context.Background()
	e.settings.Secrets = e.client
	cfg, _ := e.settings.Config()
	cfg.Encryption = &arkv1.EncryptionConfig{SecretName: "ark-encryption"}
	e.settings.Set(cfg)

	e.newBackup(t, "no-secret", arkv1.BackupSpec{IncludedNamespaces: []string{"default"}})
	e.reconcileBackup(t, "no-secret")
	if b := e.getBackup(t, "no-secret"); b.Status.Phase != arkv1.BackupPhaseFailedValidation ||
		!strings.Contains(strings.Join(b.Status.ValidationErrors, "\n"), "Secret "+e.namespace+"/ark-encryption") {
		t.Fatalf("without its Secret: %+v", b.Status)
	}

	oldID, oldR, _ := encryption.Generate()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: "ark-encryption"},
		Data: map[string][]byte{"identities": []byte(oldID + "\n")}}
	if err := e.client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	src, dst := e.namespace+"-src", e.namespace+"-dst"
	e.createNamespace(t, src)
	e.configMaps(t, src, 30)
	e.newBackup(t, "b1", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	e.reconcileBackup(t, "b1")
	b := e.getBackup(t, "b1")
	if b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("phase %s: %s %v", b.Status.Phase, b.Status.FailureReason, b.Status.ValidationErrors)
	}
	enc, a := b.Status.Encryption, b.Status.Archive
	if enc == nil || enc.Recipient != oldR || enc.SecretName != "ark-encryption" || enc.Format != "age" {
		t.Fatalf("status.encryption %+v", enc)
	}
	if a.PlaintextSHA256 == "" || a.PlaintextSHA256 == a.SHA256 || a.PlaintextSize == 0 {
		t.Fatalf("status.archive %+v: want the digests of the ciphertext and of the plaintext", a)
	}
	for _, key := range []string{"b1/b1.tar.gz", "b1/b1-logs.gz"} {
		rc, err := e.bucket.GetObject(ctx, "ark", key)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if !encryption.IsEncrypted(data) || bytes.Contains(data, []byte("cm-000")) {
			t.Fatalf("%s is not encrypted", key)
		}
	}

	restore := func(name string) *arkv1.Restore {
		e.newRestore(t, name, arkv1.RestoreSpec{BackupName: "b1", NamespaceMapping: map[string]string{src: dst + "-" + name}, IncludedResources: []string{"configmaps"}})
		e.reconcileRestore(t, name)
		return e.getRestore(t, name)
	}
	if r := restore("r1"); r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Progress.ItemsRestored != 30 {
		t.Fatalf("restore with the key: %s %s %+v", r.Status.Phase, r.Status.FailureReason, r.Status.Progress)
	}
	var cms corev1.ConfigMapList
	if err := e.client.List(ctx, &cms, client.InNamespace(dst+"-r1")); err != nil || len(cms.Items) != 30 {
		t.Fatalf("%d ConfigMaps restored (%v)", len(cms.Items), err)
	}

	// Rotated: the old key dropped from the Secret.
	newID, _, _ := encryption.Generate()
	secret.Data["identities"] = []byte(newID + "\n")
	if err := e.client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	r := restore("r2")
	if r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, oldR) ||
		!strings.Contains(r.Status.FailureReason, "Secret "+e.namespace+"/ark-encryption") {
		t.Fatalf("restore after the key was dropped: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
	// The old key listed again, after the new one: readable again, and new
	// backups use the new key.
	secret.Data["identities"] = []byte(newID + "\n" + oldID + "\n")
	if err := e.client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if r := restore("r3"); r.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("restore with the old key listed second: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
	e.newBackup(t, "b2", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	e.reconcileBackup(t, "b2")
	if b := e.getBackup(t, "b2"); b.Status.Encryption == nil || b.Status.Encryption.Recipient == oldR {
		t.Fatalf("a backup after rotation: %+v", b.Status.Encryption)
	}

	if err := e.client.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if r := restore("r4"); r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "does not exist") {
		t.Fatalf("restore without the Secret: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
	cfg.Encryption = nil
	e.settings.Set(cfg)
	if r := restore("r5"); r.Status.Phase != arkv1.RestorePhaseFailed || !strings.Contains(r.Status.FailureReason, "names no encryption Secret") {
		t.Fatalf("restore with encryption off in the Config: %s %s", r.Status.Phase, r.Status.FailureReason)
	}
}
