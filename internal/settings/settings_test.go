package settings

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
)

// A bad storage prefix makes the Config invalid, with the field and the fix.
func TestStoragePrefixIsValidated(t *testing.T) {
	s := &Settings{Factory: Factory{ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) {
		return memstore.New("b"), nil
	}}}
	cfg := &arkv1.Config{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "default"},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "b", Prefix: "../velero"}}
	s.Set(cfg)
	_, err := s.Environment()
	if !IsInvalidConfig(err) || !strings.Contains(err.Error(), `backupStorageProvider.prefix "../velero"`) || !strings.Contains(err.Error(), "kubectl -n heptio-ark edit config default") {
		t.Fatalf("Environment() = %v", err)
	}
	cfg.BackupStorageProvider.Prefix = "velero/cluster-a/"
	s.Set(cfg)
	env, err := s.Environment()
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Store.Location(); got != `bucket b (prefix "velero/cluster-a")` {
		t.Fatalf("location %q", got)
	}
}

// The local volume snapshotter keeps its snapshots under the storage prefix
// too, so an Ark confined to a prefix writes nothing outside it.
func TestLocalSnapshotsStayUnderThePrefix(t *testing.T) {
	bucket := memstore.New("b")
	s := &Settings{Factory: Factory{ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) { return bucket, nil }}}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "pv")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string]string{"": "_snapshots/", "team-a/cluster-1": "team-a/cluster-1/_snapshots/"} {
		s.Set(&arkv1.Config{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "default"},
			BackupStorageProvider:    arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "b", Prefix: prefix},
			PersistentVolumeProvider: &arkv1.CloudProviderConfig{Name: "local", Config: map[string]string{"volumeRoot": filepath.Join(tmp, "vols")}}})
		env, err := s.Environment()
		if err != nil {
			t.Fatal(err)
		}
		id, err := env.Volumes.CreateSnapshot(context.Background(), src, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if keys := bucket.Keys("b", want+id); len(keys) != 2 {
			t.Errorf("prefix %q: snapshot %s not under %s: %v", prefix, id, want, bucket.Keys("b", ""))
		}
	}
}
