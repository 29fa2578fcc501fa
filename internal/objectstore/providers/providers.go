// Package providers turns backupStorageProvider.name and .config of the Ark
// Config into an ObjectStore.
package providers

import (
	"fmt"
	"strings"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/aws"
	"github.com/heptio/ark/internal/objectstore/azure"
	"github.com/heptio/ark/internal/objectstore/filesystem"
	"github.com/heptio/ark/internal/objectstore/gcp"
)

// Names lists the valid backupStorageProvider.name values.
var Names = []string{"aws", "gcp", "azure", "filesystem"}

// New builds the object store called name from its config map.
func New(name string, config map[string]string) (objectstore.ObjectStore, error) {
	switch name {
	case "aws":
		return aws.New(config)
	case "gcp":
		return gcp.New(config)
	case "azure":
		return azure.New(config)
	case "filesystem":
		return filesystem.New(config)
	}
	return nil, fmt.Errorf("unknown object storage provider %q in backupStorageProvider.name: use one of %s", name, strings.Join(Names, ", "))
}
