package settings

import (
	"fmt"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	"github.com/heptio/ark/internal/snapshot"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
)

// Factory builds the stores a Config names. The zero Factory uses the
// providers' registries; tests replace either function.
type Factory struct {
	ObjectStore func(name string, config map[string]string) (objectstore.ObjectStore, error)
	BlockStore  func(name string, config map[string]string, deps snapshotproviders.Deps) (snapshot.BlockStore, error)
}

func (f Factory) build(cfg *arkv1.Config) (*Environment, error) {
	newObjectStore, newBlockStore := f.ObjectStore, f.BlockStore
	if newObjectStore == nil {
		newObjectStore = objectproviders.New
	}
	if newBlockStore == nil {
		newBlockStore = snapshotproviders.New
	}
	bsp := cfg.BackupStorageProvider
	if bsp.Name == "" {
		return nil, fmt.Errorf("backupStorageProvider.name is empty: set it to aws, gcp, azure or filesystem")
	}
	if bsp.Bucket == "" {
		return nil, fmt.Errorf("backupStorageProvider.bucket is empty: set it to the bucket (or container) backups go to")
	}
	if e := cfg.Encryption; e != nil && e.SecretName == "" {
		return nil, fmt.Errorf("encryption.secretName is empty: name the Secret holding the age keys (see docs/encryption.md), or remove encryption")
	}
	objects, err := newObjectStore(bsp.Name, bsp.Config)
	if err != nil {
		return nil, fmt.Errorf("backupStorageProvider %q: %w", bsp.Name, err)
	}
	env := &Environment{Config: cfg, Store: backupstore.New(objects, bsp.Bucket, backupstore.ArkLayout)}
	if pvp := cfg.PersistentVolumeProvider; pvp != nil && pvp.Name != "" {
		volumes, err := newBlockStore(pvp.Name, pvp.Config, snapshotproviders.Deps{ObjectStore: objects, Bucket: bsp.Bucket})
		if err != nil {
			return nil, fmt.Errorf("persistentVolumeProvider %q: %w", pvp.Name, err)
		}
		env.Volumes = volumes
	}
	return env, nil
}
