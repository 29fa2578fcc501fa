package encryption

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

func newKey(t *testing.T) (identity, recipient string) {
	t.Helper()
	id, r, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id, r
}

func keyring(t *testing.T, lines ...string) *Keyring {
	t.Helper()
	k, err := Parse([]byte("# made by age-keygen\n"+strings.Join(lines, "\n")+"\n"), "Secret ns/keys (key identities)", "keys")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t *testing.T, k *Keyring, plain []byte) []byte {
	t.Helper()
	r, err := k.Encrypt(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func open(k *Keyring, sealed []byte, recipient string) ([]byte, error) {
	r, err := k.Decrypt(bytes.NewReader(sealed), recipient)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Several chunks (age's are 64 KiB) round-trip, and the ciphertext holds
// nothing of the plaintext.
func TestRoundTrip(t *testing.T) {
	id, r := newKey(t)
	k := keyring(t, id)
	if k.Recipient() != r || !k.Has(r) {
		t.Fatalf("recipient %s, want %s", k.Recipient(), r)
	}
	plain := bytes.Repeat([]byte(`{"apiVersion":"v1","kind":"Secret","data":{"password":"aHVudGVyMg=="}}`), 5000)
	sealed := seal(t, k, plain)
	if !IsEncrypted(sealed) || bytes.Contains(sealed, []byte("apiVersion")) || bytes.Contains(sealed, []byte("aHVudGVyMg")) {
		t.Fatal("the ciphertext is not an age file, or shows the plaintext")
	}
	got, err := open(k, sealed, r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %v (%d bytes, want %d)", err, len(got), len(plain))
	}
	if e := k.Encryption(); e.Format != "age" || e.Recipient != r || e.SecretName != "keys" {
		t.Fatalf("encryption record %+v", e)
	}
}

// Rotation: the first key encrypts; every listed key decrypts; a keyring
// that dropped the old key says which key the file needs and where it
// looked.
func TestRotation(t *testing.T) {
	oldID, oldR := newKey(t)
	newID, newR := newKey(t)
	before := keyring(t, oldID)
	sealedOld := seal(t, before, []byte("made with the old key"))

	after := keyring(t, newID, oldID)
	if after.Recipient() != newR {
		t.Fatalf("new backups go to %s, want the first key %s", after.Recipient(), newR)
	}
	if got, err := open(after, sealedOld, oldR); err != nil || string(got) != "made with the old key" {
		t.Fatalf("an old backup with the old key still listed: %q, %v", got, err)
	}
	sealedNew := seal(t, after, []byte("made with the new key"))
	if _, err := open(before, sealedNew, newR); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old keyring opened a new backup: %v", err)
	}

	dropped := keyring(t, newID)
	_, err := open(dropped, sealedOld, oldR)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), oldR) || !strings.Contains(err.Error(), "Secret ns/keys") || !strings.Contains(err.Error(), newR) {
		t.Fatalf("error %v: want it to name the recipient needed, the Secret and the keys it holds", err)
	}
	if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
		t.Fatalf("the error shows a secret key: %v", err)
	}
}

// Modified, truncated or extended files do not decrypt to altered data.
func TestTamperingFails(t *testing.T) {
	id, _ := newKey(t)
	k := keyring(t, id)
	plain := make([]byte, 200_000)
	_, _ = rand.Read(plain)
	sealed := seal(t, k, plain)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	for name, c := range map[string][]byte{
		"a flipped bit":  flipped,
		"cut short":      sealed[:len(sealed)-100],
		"last chunk cut": sealed[:len(sealed)-(200_000%65536)-16],
		"data appended":  append(bytes.Clone(sealed), "more"...),
	} {
		if got, err := open(k, c, ""); err == nil {
			t.Errorf("%s: decrypted %d bytes without an error", name, len(got))
		}
	}
	if _, err := open(k, []byte("not encrypted at all, just text\n"), ""); err == nil || !strings.Contains(err.Error(), "not a readable age file") {
		t.Errorf("plain data: %v", err)
	}
}

func TestParseErrorsNameTheSourceNotTheKey(t *testing.T) {
	for _, data := range []string{"", "# only a comment\n", "AGE-SECRET-KEY-1NOTAKEY\n", "age1notanidentity\n"} {
		_, err := Parse([]byte(data), "Secret ns/keys (key identities)", "keys")
		if err == nil || !strings.Contains(err.Error(), "Secret ns/keys") || !strings.Contains(err.Error(), "age-keygen") {
			t.Errorf("Parse(%q): %v", data, err)
		}
		if err != nil && strings.Contains(err.Error(), "NOTAKEY") {
			t.Errorf("the error shows the key line: %v", err)
		}
	}
}

func TestLoad(t *testing.T) {
	id, r := newKey(t)
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "ark-encryption"}, Data: map[string][]byte{"identities": []byte(id + "\n")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "other-key"}, Data: map[string][]byte{"age.txt": []byte(id)}},
	).Build()
	ctx := context.Background()
	k, err := Load(ctx, c, "heptio-ark", &arkv1.EncryptionConfig{SecretName: "ark-encryption"})
	if err != nil || k.Recipient() != r || k.Encryption().SecretName != "ark-encryption" {
		t.Fatalf("Load: %v", err)
	}
	if k, err := Load(ctx, c, "heptio-ark", &arkv1.EncryptionConfig{SecretName: "other-key", Key: "age.txt"}); err != nil || k.Recipient() != r {
		t.Fatalf("Load with a key: %v", err)
	}
	_, err = Load(ctx, c, "heptio-ark", &arkv1.EncryptionConfig{SecretName: "missing"})
	if err == nil || !strings.Contains(err.Error(), "heptio-ark/missing") || !strings.Contains(err.Error(), "kubectl -n heptio-ark create secret generic missing --from-file=identities=key.txt") {
		t.Fatalf("missing Secret: %v", err)
	}
	_, err = Load(ctx, c, "heptio-ark", &arkv1.EncryptionConfig{SecretName: "other-key"})
	if err == nil || !strings.Contains(err.Error(), `has no key "identities" (it has: age.txt)`) {
		t.Fatalf("missing key: %v", err)
	}
}
