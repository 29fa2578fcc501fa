// Package providers is the registry of object storage providers: the names
// backupStorageProvider.name may take, the config keys each accepts, and how
// each is built. The server builds stores through it and `ark install`
// checks its flags against the same Keys.
package providers

import (
	"fmt"
	"strings"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/aws"
	"github.com/heptio/ark/internal/objectstore/azure"
	"github.com/heptio/ark/internal/objectstore/filesystem"
	"github.com/heptio/ark/internal/objectstore/gcp"
	"github.com/heptio/ark/internal/providerconfig"
)

// Constructor builds an object store from its config map.
type Constructor = func(config map[string]string) (objectstore.ObjectStore, error)

// Provider is one object storage provider.
type Provider = providerconfig.Provider[Constructor]

var registry = providerconfig.Registry[Constructor]{
	{Name: "aws", Keys: aws.Keys, New: func(c map[string]string) (objectstore.ObjectStore, error) { return aws.New(c) }},
	{Name: "gcp", Keys: gcp.Keys, New: func(c map[string]string) (objectstore.ObjectStore, error) { return gcp.New(c) }},
	{Name: "azure", Keys: azure.Keys, New: func(c map[string]string) (objectstore.ObjectStore, error) { return azure.New(c) }},
	{Name: "filesystem", Keys: filesystem.Keys, New: func(c map[string]string) (objectstore.ObjectStore, error) { return filesystem.New(c) }},
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

// Names lists the valid backupStorageProvider.name values.
func (s Set) Names() []string { return s.registry.Names() }

// Lookup returns the provider called name.
func (s Set) Lookup(name string) (Provider, bool) { return s.registry.Lookup(name) }

// New builds the object store called name from its config map.
func (s Set) New(name string, config map[string]string) (objectstore.ObjectStore, error) {
	p, ok := s.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown object storage provider %q in backupStorageProvider.name: use one of %s "+
			"(a plugin's provider is named after its domain, e.g. example.com/mystore, and must be installed with 'ark plugin add')",
			name, strings.Join(s.Names(), ", "))
	}
	return p.New(config)
}

// Names lists the built-in backupStorageProvider.name values.
func Names() []string { return Builtin().Names() }

// Lookup returns the built-in provider called name.
func Lookup(name string) (Provider, bool) { return Builtin().Lookup(name) }

// New builds the built-in object store called name from its config map.
func New(name string, config map[string]string) (objectstore.ObjectStore, error) {
	return Builtin().New(name, config)
}
