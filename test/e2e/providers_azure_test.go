package e2e

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/testproc"
	"github.com/heptio/ark/test/e2e/harness"
)

// Azurite's well-known development account.
const (
	providerAzuriteAccount = "devstoreaccount1"
	providerAzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	providerAzureContainer = "ark-azure-e2e"
)

// TestProviderAzure backs up and restores through the azure store on Azurite
// with the real ark binary, then restarts the server with a wrong storage key.
func TestProviderAzure(t *testing.T) {
	t.Parallel()
	bin := testproc.Require(t, testproc.Azurite)
	port := testproc.FreePort(t)
	endpoint := "http://" + testproc.HostPort(port) + "/" + providerAzuriteAccount + "/"
	testproc.Start(t, "azurite", bin,
		[]string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", filepath.Join(t.TempDir(), "data"),
			"--disableTelemetry", "--skipApiVersionCheck", "--silent"}, nil,
		// Any HTTP answer (an unauthenticated list is refused) means it is up.
		testproc.HTTPReady(endpoint+"?comp=list", func(s int) bool { return s > 0 }))

	ctx := context.Background()
	cred, err := azblob.NewSharedKeyCredential(providerAzuriteAccount, providerAzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateContainer(ctx, providerAzureContainer, nil); err != nil {
		t.Fatalf("creating container %s on Azurite: %v", providerAzureContainer, err)
	}

	// The server gets the seven variables of the docs' cloud-credentials
	// secret, as examples/azure loads them (envFrom). Only the storage
	// account and key matter to the object store; the others are the
	// service principal of the snapshot provider.
	serverEnv := func(storageKey string) []string {
		return []string{
			"AZURE_SUBSCRIPTION_ID=00000000-0000-0000-0000-000000000001",
			"AZURE_TENANT_ID=00000000-0000-0000-0000-000000000002",
			"AZURE_RESOURCE_GROUP=ark-e2e",
			"AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000003",
			"AZURE_CLIENT_SECRET=not-used-by-the-object-store",
			"AZURE_STORAGE_ACCOUNT_ID=" + providerAzuriteAccount,
			"AZURE_STORAGE_KEY=" + storageKey,
		}
	}
	env := harness.Start(t, harness.Options{NoConfig: true, ServerEnv: serverEnv(providerAzuriteKey)})
	// Azurite's blob service is path-style under the account, so the Config
	// names it; against Azure itself the key is left out.
	env.ApplyConfig(&arkv1.Config{
		ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "azure", Config: map[string]string{"storageEndpoint": endpoint}},
			Bucket:              providerAzureContainer,
		},
	})

	bucket := providerBucket{
		list: func(t *testing.T, prefix string) []string {
			t.Helper()
			var keys []string
			pager := admin.NewListBlobsFlatPager(providerAzureContainer, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatalf("listing %s/%s: %v", providerAzureContainer, prefix, err)
				}
				for _, b := range page.Segment.BlobItems {
					keys = append(keys, *b.Name)
				}
			}
			return keys
		},
		read: func(t *testing.T, key string) []byte {
			t.Helper()
			resp, err := admin.DownloadStream(ctx, providerAzureContainer, key, nil)
			if err != nil {
				t.Fatalf("reading %s/%s: %v", providerAzureContainer, key, err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading %s/%s: %v", providerAzureContainer, key, err)
			}
			return data
		},
		urlPrefix:      endpoint + providerAzureContainer + "/",
		signatureParam: "sig",
	}

	t.Run("backup and restore", func(t *testing.T) {
		providerBackupAndRestore(t, env, bucket, "azure-app")
	})

	t.Run("wrong storage key", func(t *testing.T) {
		env.StopServer()
		// Valid base64, so the SDK accepts it; the service refuses it.
		env.ServerEnv = serverEnv("bm90IHRoZSBrZXkgb2YgdGhpcyBhY2NvdW50LCBqdXN0IGZpbGxlciBieXRlcyEhIQ==")
		env.StartServer()
		reason, cli := providerFailedBackup(t, env, "azure-wrong-key", "azure-app")
		for _, want := range []string{
			"access denied", "Azure refused",
			"cloud-credentials", "AZURE_STORAGE_ACCOUNT_ID", "AZURE_STORAGE_KEY",
			"envFrom: secretRef: cloud-credentials",
		} {
			if !strings.Contains(reason, want) || !strings.Contains(cli, want) {
				t.Errorf("the backup's status and the CLI must say %q:\nstatus: %s\ncli: %s", want, reason, cli)
			}
		}
		if stored := bucket.list(t, "azure-wrong-key/"); len(stored) != 0 {
			t.Errorf("a backup with a wrong key wrote %v", stored)
		}

		// The right key is the fix.
		env.StopServer()
		env.ServerEnv = serverEnv(providerAzuriteKey)
		env.StartServer()
		if out := env.MustArk("backup", "create", "azure-key-fixed", "--include-namespaces", "azure-app", "--wait"); !strings.Contains(out, "Backup azure-key-fixed: Completed") {
			t.Fatalf("backup after the key was fixed:\n%s", out)
		}
	})
}
