package install

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
)

// providerEnvironment gives every provider the credentials it reads when it
// is built (none of them calls its cloud then): a GCP service account key,
// the AZURE_* variables, an AWS credentials file.
func providerEnvironment(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	saKey, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "my-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "ark@my-project.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "http://127.0.0.1:1/token",
	})
	gcpFile := filepath.Join(dir, "gcp.json")
	awsFile := filepath.Join(dir, "aws")
	if err := writeFile(gcpFile, string(saKey)); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(awsFile, awsCredentials); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", gcpFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", awsFile)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-aws-config"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	vars, err := parseEnvFile([]byte(azureCredentials))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// buildProviders builds the providers a Config names, as the server does
// when it loads it.
func buildProviders(t *testing.T, cfg *unstructured.Unstructured, storageDir string) error {
	t.Helper()
	name, _, _ := unstructured.NestedString(cfg.Object, "backupStorageProvider", "name")
	config, _, _ := unstructured.NestedStringMap(cfg.Object, "backupStorageProvider", "config")
	if name == "filesystem" {
		config["path"] = storageDir // the pod's /storage, here
	}
	store, err := objectproviders.New(name, config)
	if err != nil {
		return err
	}
	if pv, found, _ := unstructured.NestedMap(cfg.Object, "persistentVolumeProvider"); found {
		volumeConfig, _, _ := unstructured.NestedStringMap(pv, "config")
		_, err := snapshotproviders.New(pv["name"].(string), volumeConfig, snapshotproviders.Deps{ObjectStore: store, Bucket: "b"})
		return err
	}
	return nil
}

// Every example Config, placeholders filled in, is accepted by the providers
// it names: no key of the examples is one a provider rejects.
func TestExampleConfigsBuildTheirProviders(t *testing.T) {
	providerEnvironment(t)
	files := []string{"aws/00-ark-config.yaml", "gcp/00-ark-config.yaml", "azure/10-ark-config.yaml",
		"minio/10-ark-config.yaml", "filesystem/10-ark-config.yaml"}
	for _, f := range files {
		cfg := find(exampleObjects(t, f), "Config", "default")
		if cfg == nil {
			t.Fatalf("%s has no Config default", f)
		}
		if err := buildProviders(t, cfg, t.TempDir()); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The key tables `ark install` checks flags against are what the providers
// accept: every known key is taken, an unknown one refused.
func TestKeyTablesMatchProviders(t *testing.T) {
	providerEnvironment(t)
	sampleValue := func(key string) string {
		switch {
		case strings.HasSuffix(key, "Url"), strings.HasSuffix(key, "Endpoint"):
			return "https://127.0.0.1:1/" // Azure's authority host must be https
		case key == "storageEmulatorHost":
			return "127.0.0.1:1"
		case key == "apiTimeout":
			return "90s"
		case key == "path":
			return t.TempDir()
		case key == "s3ForcePathStyle":
			return "true"
		}
		return "x-1"
	}
	for _, name := range objectproviders.Names() {
		keys, _ := objectStoreKeys(name)
		config := map[string]string{}
		for _, k := range keys.Known {
			config[k] = sampleValue(k)
		}
		if _, err := objectproviders.New(name, config); err != nil {
			t.Errorf("object store %s refuses its known keys %v: %v", name, keys.Known, err)
		}
		config["notAKey"] = "x"
		if _, err := objectproviders.New(name, config); err == nil || !strings.Contains(err.Error(), "notAKey") {
			t.Errorf("object store %s accepts an unknown key: %v", name, err)
		}
	}
	for _, name := range snapshotproviders.Names() {
		if name == "local" {
			continue // needs the object store and a volume root: tested in its package
		}
		keys, _ := blockStoreKeys(name)
		config := map[string]string{}
		for _, k := range keys.Known {
			config[k] = sampleValue(k)
		}
		if _, err := snapshotproviders.New(name, config, snapshotproviders.Deps{}); err != nil {
			t.Errorf("block store %s refuses its known keys %v: %v", name, keys.Known, err)
		}
		config["notAKey"] = "x"
		if _, err := snapshotproviders.New(name, config, snapshotproviders.Deps{}); err == nil || !strings.Contains(err.Error(), "notAKey") {
			t.Errorf("block store %s accepts an unknown key: %v", name, err)
		}
	}
}
