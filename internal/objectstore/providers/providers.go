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

// Names lists the valid backupStorageProvider.name values.
func Names() []string { return registry.Names() }

// Lookup returns the provider called name.
func Lookup(name string) (Provider, bool) { return registry.Lookup(name) }

// New builds the object store called name from its config map.
func New(name string, config map[string]string) (objectstore.ObjectStore, error) {
	p, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown object storage provider %q in backupStorageProvider.name: use one of %s", name, strings.Join(Names(), ", "))
	}
	return p.New(config)
}
