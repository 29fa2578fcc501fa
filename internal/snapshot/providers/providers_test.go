package providers

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/snapshot"
	"github.com/heptio/ark/internal/snapshot/aws"
	"github.com/heptio/ark/internal/snapshot/azure"
	"github.com/heptio/ark/internal/snapshot/gcp"
	"github.com/heptio/ark/internal/snapshot/local"
)

func TestUnknownProviderListsValidNames(t *testing.T) {
	_, err := New("openstack", nil, Deps{})
	if !errors.Is(err, snapshot.ErrInvalidConfig) {
		t.Fatalf("unknown provider: %v", err)
	}
	for _, want := range []string{`"openstack"`, "aws, azure, gcp, local"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBuildsEachProvider(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	creds := filepath.Join(t.TempDir(), "cloud")
	if err := os.WriteFile(creds, []byte("[default]\naws_access_key_id=a\naws_secret_access_key=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	for name, value := range map[string]string{
		"AZURE_SUBSCRIPTION_ID": "s", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "x", "AZURE_RESOURCE_GROUP": "g",
	} {
		t.Setenv(name, value)
	}

	bs, err := New("aws", map[string]string{"region": "us-east-1"}, Deps{})
	if _, ok := bs.(*aws.BlockStore); err != nil || !ok {
		t.Errorf("aws: %T, %v", bs, err)
	}
	bs, err = New("azure", map[string]string{"location": "eastus"}, Deps{})
	if _, ok := bs.(*azure.BlockStore); err != nil || !ok {
		t.Errorf("azure: %T, %v", bs, err)
	}
	// GCP reads the credentials file at construction: a missing one says so.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing"))
	_, err = New("gcp", map[string]string{"project": "p"}, Deps{})
	if !errors.Is(err, snapshot.ErrCredentials) || !strings.Contains(err.Error(), "persistent volume provider gcp") {
		t.Errorf("gcp without credentials: %v", err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", serviceAccountKey(t))
	bs, err = New("gcp", map[string]string{"project": "p"}, Deps{})
	if _, ok := bs.(*gcp.BlockStore); err != nil || !ok {
		t.Errorf("gcp: %T, %v", bs, err)
	}

	// Config errors name the provider.
	if _, err := New("aws", nil, Deps{}); !errors.Is(err, snapshot.ErrInvalidConfig) || !strings.Contains(err.Error(), "provider aws") {
		t.Errorf("aws without region: %v", err)
	}
}

// serviceAccountKey writes a service account key file; building the GCE
// client reads it but does not call Google.
func serviceAccountKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "k",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "ark@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
	})
	path := filepath.Join(t.TempDir(), "cloud")
	if err := os.WriteFile(path, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocalNeedsTheObjectStore(t *testing.T) {
	if _, err := New("local", nil, Deps{}); !errors.Is(err, snapshot.ErrInvalidConfig) || !strings.Contains(err.Error(), "object store") {
		t.Errorf("local without an object store: %v", err)
	}
}

// TestLocalThroughNew backs up and restores a directory through the
// constructor the server uses, with the default key prefix.
func TestLocalThroughNew(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "pv")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	store := memstore.New("b")
	bs, err := New("local", map[string]string{local.VolumeRootKey: filepath.Join(tmp, "vols")}, Deps{ObjectStore: store, Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := bs.CreateSnapshot(ctx, src, "", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if keys := store.Keys("b", "_snapshots/"+id+".tar.gz"); len(keys) != 1 {
		t.Fatalf("no archive at _snapshots/%s.tar.gz: %v", id, store.Keys("b", ""))
	}
	vol, err := bs.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(vol, "index.html"))
	if err != nil || string(got) != "<h1>hi</h1>" {
		t.Errorf("restored index.html = %q, %v", got, err)
	}
}
