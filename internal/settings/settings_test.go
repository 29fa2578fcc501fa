package settings

import (
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
