package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/testproc"
	"github.com/heptio/ark/test/e2e/harness"
)

const providerGCSBucket = "ark-gcp-e2e"

// TestProviderGCP backs up and restores through the gcp store on
// fake-gcs-server with the real ark binary, then takes the credentials file
// away as a missing secret mount would.
func TestProviderGCP(t *testing.T) {
	t.Parallel()
	bin := testproc.Require(t, testproc.FakeGCSServer)
	port := testproc.FreePort(t)
	host := testproc.HostPort(port)
	testproc.Start(t, "fake-gcs-server", bin,
		[]string{"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
			"-backend", "filesystem", "-filesystem-root", filepath.Join(t.TempDir(), "data"),
			// Signed URLs are path-style on this host; fake-gcs-server routes
			// them only when the Host header matches -public-host.
			"-public-host", host, "-external-url", "http://" + host, "-log-level", "warn"}, nil,
		testproc.HTTPReady("http://"+host+"/_internal/healthcheck", func(s int) bool { return s == http.StatusOK }))

	ctx := context.Background()
	admin, err := storage.NewClient(ctx, option.WithEndpoint("http://"+host+"/storage/v1/"),
		option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Bucket(providerGCSBucket).Create(ctx, "ark-e2e", nil); err != nil {
		t.Fatalf("creating bucket %s on fake-gcs-server: %v", providerGCSBucket, err)
	}

	// The key file sits where the deployment mounts the cloud-credentials
	// secret: <dir>/credentials/cloud.
	keyFile := filepath.Join(t.TempDir(), "credentials", "cloud")
	providerWriteServiceAccountKey(t, keyFile)
	// The emulator comes in through the SDKs' standard variable, so the
	// Config is exactly the one a user writes for Google Cloud Storage.
	env := harness.Start(t, harness.Options{NoConfig: true, ServerEnv: []string{
		"GOOGLE_APPLICATION_CREDENTIALS=" + keyFile,
		"STORAGE_EMULATOR_HOST=" + host,
	}})
	env.ApplyConfig(&arkv1.Config{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "gcp"},
			Bucket:              providerGCSBucket,
		},
	})

	bucket := providerBucket{
		list: func(t *testing.T, prefix string) []string {
			t.Helper()
			var keys []string
			it := admin.Bucket(providerGCSBucket).Objects(ctx, &storage.Query{Prefix: prefix})
			for {
				attrs, err := it.Next()
				if errors.Is(err, iterator.Done) {
					return keys
				}
				if err != nil {
					t.Fatalf("listing gs://%s/%s: %v", providerGCSBucket, prefix, err)
				}
				keys = append(keys, attrs.Name)
			}
		},
		read: func(t *testing.T, key string) []byte {
			t.Helper()
			r, err := admin.Bucket(providerGCSBucket).Object(key).NewReader(ctx)
			if err != nil {
				t.Fatalf("reading gs://%s/%s: %v", providerGCSBucket, key, err)
			}
			defer r.Close()
			data, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("reading gs://%s/%s: %v", providerGCSBucket, key, err)
			}
			return data
		},
		urlPrefix:      "http://" + host + "/" + providerGCSBucket + "/",
		signatureParam: "X-Goog-Signature",
	}

	t.Run("backup and restore", func(t *testing.T) {
		providerBackupAndRestore(t, env, bucket, "gcp-app")
	})

	t.Run("credentials file missing", func(t *testing.T) {
		// The secret is not mounted: nothing at GOOGLE_APPLICATION_CREDENTIALS.
		// The server reads the file for each operation, so no restart.
		moved := keyFile + ".away"
		if err := os.Rename(keyFile, moved); err != nil {
			t.Fatal(err)
		}
		reason, cli := providerFailedBackup(t, env, "gcp-no-credentials", "gcp-app")
		for _, want := range []string{
			"open " + keyFile + ": no such file or directory",
			"cloud-credentials", "mount it into the Ark server pod at /credentials",
			"GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud",
		} {
			if !strings.Contains(reason, want) || !strings.Contains(cli, want) {
				t.Errorf("the backup's status and the CLI must say %q:\nstatus: %s\ncli: %s", want, reason, cli)
			}
		}
		if stored := bucket.list(t, "gcp-no-credentials/"); len(stored) != 0 {
			t.Errorf("a backup without credentials wrote %v", stored)
		}

		// Putting the secret back is the fix, and it is enough.
		if err := os.Rename(moved, keyFile); err != nil {
			t.Fatal(err)
		}
		if out := env.MustArk("backup", "create", "gcp-credentials-back", "--include-namespaces", "gcp-app", "--wait"); !strings.Contains(out, "Backup gcp-credentials-back: Completed") {
			t.Fatalf("backup after the credentials came back:\n%s", out)
		}
	})
}

// providerWriteServiceAccountKey writes a key file of the shape `gcloud iam
// service-accounts keys create` produces, with a fresh RSA key, so that
// download URLs are really signed.
func providerWriteServiceAccountKey(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "ark-e2e",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "heptio-ark@ark-e2e.iam.gserviceaccount.com",
		"client_id":      "100000000000000000000",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
