// Package providers is the registry of volume snapshot providers: the names
// persistentVolumeProvider.name may take, the config keys each accepts, and
// how each is built. The server builds block stores through it and `ark
// install` checks its flags against the same Keys.
package providers

import (
	"fmt"
	"strings"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/providerconfig"
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

// Constructor builds a block store from its config map and Deps.
type Constructor = func(config map[string]string, deps Deps) (snapshot.BlockStore, error)

// Provider is one volume snapshot provider.
type Provider = providerconfig.Provider[Constructor]

var registry = providerconfig.Registry[Constructor]{
	{Name: "aws", Keys: aws.Keys, New: func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return aws.New(c) }},
	{Name: "azure", Keys: azure.Keys, New: func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return azure.New(c) }},
	{Name: "gcp", Keys: gcp.Keys, New: func(c map[string]string, _ Deps) (snapshot.BlockStore, error) { return gcp.New(c) }},
	{Name: "local", Keys: local.Keys, New: newLocal},
}

// Set is a set of providers: the built-in ones, and the plugins' ones the
// server adds (With).
type Set struct {
	registry providerconfig.Registry[Constructor]
}

// Builtin is the set of the built-in providers.
func Builtin() Set { return Set{registry} }

// With returns the set with extra providers (the plugins'), or an error
// when one takes a name already in it.
func (s Set) With(extra ...Provider) (Set, error) {
	r, err := s.registry.With(extra...)
	return Set{r}, err
}

// Names lists the valid provider names.
func (s Set) Names() []string { return s.registry.Names() }

// Lookup returns the provider called name.
func (s Set) Lookup(name string) (Provider, bool) { return s.registry.Lookup(name) }

// Names lists the built-in provider names, sorted.
func Names() []string { return Builtin().Names() }

// Lookup returns the built-in provider called name.
func Lookup(name string) (Provider, bool) { return Builtin().Lookup(name) }

func newLocal(c map[string]string, d Deps) (snapshot.BlockStore, error) {
	if d.ObjectStore == nil || d.Bucket == "" {
		return nil, fmt.Errorf("%w: the local block store keeps snapshots in the backup object store, "+
			"but none (or no bucket) was given", snapshot.ErrInvalidConfig)
	}
	prefix := d.Prefix
	if prefix == "" {
		prefix = local.DefaultPrefix
	}
	return local.New(d.ObjectStore, d.Bucket, prefix, c)
}

// New builds the named built-in block store.
func New(name string, config map[string]string, deps Deps) (snapshot.BlockStore, error) {
	return Builtin().New(name, config, deps)
}

// New builds the named block store. Errors say which provider failed and,
// for an unknown name, which names are valid.
func (s Set) New(name string, config map[string]string, deps Deps) (snapshot.BlockStore, error) {
	p, ok := s.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: unknown persistent volume provider %q; valid providers are %s "+
			"(a plugin's provider is named after its domain, e.g. example.com/myblockstore, and must be installed with 'ark plugin add')",
			snapshot.ErrInvalidConfig, name, strings.Join(s.Names(), ", "))
	}
	bs, err := p.New(config, deps)
	if err != nil {
		return nil, fmt.Errorf("persistent volume provider %s: %w", name, err)
	}
	return bs, nil
}
