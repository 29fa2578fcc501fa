// Package providers builds a snapshot.BlockStore from the provider name and
// config in the Ark Config's persistentVolumeProvider.
package providers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/snapshot"
	"github.com/heptio/ark/internal/snapshot/aws"
	"github.com/heptio/ark/internal/snapshot/azure"
	"github.com/heptio/ark/internal/snapshot/gcp"
	"github.com/heptio/ark/internal/snapshot/local"
)

// Deps carries what a provider needs besides its config. Only the local
// provider uses it: it keeps its snapshots in the backup object store.
type Deps struct {
	ObjectStore objectstore.ObjectStore
	Bucket      string
	// Prefix is the key prefix of local snapshots; "" means local.DefaultPrefix.
	Prefix string
}

var constructors = map[string]func(config map[string]string, deps Deps) (snapshot.BlockStore, error){
	"aws":   func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return aws.New(c) },
	"gcp":   func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return gcp.New(c) },
	"azure": func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return azure.New(c) },
	"local": func(c map[string]string, d Deps) (snapshot.BlockStore, error) {
		if d.ObjectStore == nil || d.Bucket == "" {
			return nil, fmt.Errorf("%w: the local block store keeps snapshots in the backup object store, "+
				"but none (or no bucket) was given", snapshot.ErrInvalidConfig)
		}
		prefix := d.Prefix
		if prefix == "" {
			prefix = local.DefaultPrefix
		}
		return local.New(d.ObjectStore, d.Bucket, prefix, c)
	},
}

// Names lists the valid provider names, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the named block store. Errors say which provider failed and,
// for an unknown name, which names are valid.
func New(name string, config map[string]string, deps Deps) (snapshot.BlockStore, error) {
	construct, ok := constructors[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown persistent volume provider %q; valid providers are %s",
			snapshot.ErrInvalidConfig, name, strings.Join(Names(), ", "))
	}
	bs, err := construct(config, deps)
	if err != nil {
		return nil, fmt.Errorf("persistent volume provider %s: %w", name, err)
	}
	return bs, nil
}
