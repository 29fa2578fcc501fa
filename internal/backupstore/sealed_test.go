package backupstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/encryption"
	"github.com/heptio/ark/internal/objectstore/memstore"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A sealed run stores the archive and the log encrypted, plain metadata,
// and the digest of the ciphertext; OpenArchive decrypts and Verify checks
// both digests, failing on a stored file that was changed.
func TestSealedRun(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New("ark")
	s := New(mem, "ark", ArkLayout)
	id, _, err := encryption.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := encryption.Parse([]byte(id), "test keys", "keys")
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte(`{"kind":"ConfigMap","data":{"k":"v"}}`), 10000)
	run := s.StartSealedBackup("b1", "uid-1", keys)
	if err := run.PutArchive(ctx, bytes.NewReader(plain)); err != nil {
		t.Fatal(err)
	}
	if err := run.PutLog(ctx, strings.NewReader("log line")); err != nil {
		t.Fatal(err)
	}
	b := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1", UID: "uid-1"}}
	b.Status.Encryption = run.Encryption()
	stored := run.StoredArchive()
	b.Status.Archive = &arkv1.ArchiveInfo{SHA256: stored.SHA256, Size: stored.Size, PlaintextSHA256: digest(plain), PlaintextSize: int64(len(plain))}
	if err := run.PutMetadata(ctx, b); err != nil {
		t.Fatal(err)
	}

	read := func(key string) []byte {
		rc, err := mem.GetObject(ctx, "ark", key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, _ := io.ReadAll(rc)
		return data
	}
	archive, log := read("b1/b1.tar.gz"), read("b1/b1-logs.gz")
	if !encryption.IsEncrypted(archive) || !encryption.IsEncrypted(log) || bytes.Contains(archive, []byte("ConfigMap")) || bytes.Contains(log, []byte("log line")) {
		t.Fatal("the archive or the log is stored in the clear")
	}
	if digest(archive) != stored.SHA256 || int64(len(archive)) != stored.Size {
		t.Fatalf("recorded %s/%d, stored object %s/%d", stored.SHA256, stored.Size, digest(archive), len(archive))
	}
	if !bytes.Contains(read("b1/ark-backup.json"), []byte(`"recipient"`)) {
		t.Fatal("the metadata is not plain JSON with the encryption record")
	}

	a, err := s.OpenArchive(ctx, b, keys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(a)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes (%v), want %d", len(got), err, len(plain))
	}
	if err := a.Verify(); err != nil {
		t.Fatal(err)
	}
	a.Close()

	if _, err := s.OpenArchive(ctx, b, nil); !errors.Is(err, ErrNoKey) {
		t.Fatalf("opened without a key: %v", err)
	}
	// A stored archive with bytes appended decrypts, but not to the digest.
	if err := mem.PutObject(ctx, "ark", "b1/b1.tar.gz", bytes.NewReader(append(archive, "x"...))); err != nil {
		t.Fatal(err)
	}
	a, err = s.OpenArchive(ctx, b, keys)
	if err == nil {
		_, _ = io.ReadAll(a)
		err = a.Verify()
		a.Close()
	}
	if err == nil {
		t.Fatal("an archive with data appended was accepted")
	}
	// A changed plaintext digest is caught after decryption.
	if err := mem.PutObject(ctx, "ark", "b1/b1.tar.gz", bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	b.Status.Archive.PlaintextSHA256 = digest([]byte("something else"))
	a, err = s.OpenArchive(ctx, b, keys)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(a)
	if err := a.Verify(); err == nil || !strings.Contains(err.Error(), "after decryption") {
		t.Fatalf("Verify with a wrong plaintext digest: %v", err)
	}
}
