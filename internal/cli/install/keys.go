package install

import (
	"fmt"
	"slices"
	"strings"

	awsstore "github.com/heptio/ark/internal/objectstore/aws"
	azurestore "github.com/heptio/ark/internal/objectstore/azure"
	fsstore "github.com/heptio/ark/internal/objectstore/filesystem"
	gcpstore "github.com/heptio/ark/internal/objectstore/gcp"
	awsvolumes "github.com/heptio/ark/internal/snapshot/aws"
	azurevolumes "github.com/heptio/ark/internal/snapshot/azure"
	gcpvolumes "github.com/heptio/ark/internal/snapshot/gcp"
)

// providerKeys are the config keys a provider accepts. The server checks
// them too, but only once it runs in the cluster; checking here turns a typo
// into an error before anything is applied. The names are the providers' own
// constants, and a test builds each provider with them.
type providerKeys struct {
	known []string
	// required: one of these alternatives must be set (aws: region, or
	// s3Url for S3-compatible storage).
	required [][]string
}

var objectStoreKeys = map[string]providerKeys{
	"aws": {
		known:    []string{awsstore.ConfigRegion, awsstore.ConfigS3URL, awsstore.ConfigS3ForcePath, awsstore.ConfigKMSKeyID, awsstore.ConfigPublicURL},
		required: [][]string{{awsstore.ConfigRegion, awsstore.ConfigS3URL}},
	},
	"gcp":        {known: []string{gcpstore.ConfigEmulatorHost}},
	"azure":      {known: []string{azurestore.ConfigStorageEndpoint}},
	"filesystem": {known: []string{fsstore.ConfigPath}, required: [][]string{{fsstore.ConfigPath}}},
}

var blockStoreKeys = map[string]providerKeys{
	"aws": {
		known:    []string{awsvolumes.RegionKey, awsvolumes.EC2URLKey, awsvolumes.AvailabilityZoneKey},
		required: [][]string{{awsvolumes.RegionKey}},
	},
	"gcp": {
		known:    []string{gcpvolumes.ProjectKey, gcpvolumes.ComputeURLKey, gcpvolumes.ZoneKey},
		required: [][]string{{gcpvolumes.ProjectKey}},
	},
	"azure": {
		known: []string{azurevolumes.LocationKey, azurevolumes.APITimeoutKey,
			azurevolumes.ResourceManagerEndpointKey, azurevolumes.ActiveDirectoryEndpointKey},
		required: [][]string{{azurevolumes.LocationKey}},
	},
}

// checkKeys rejects unknown keys and reports missing required ones, naming
// the flag to fix.
func checkKeys(provider string, config map[string]string, table map[string]providerKeys, flag, field string) error {
	keys, ok := table[provider]
	if !ok {
		return fmt.Errorf("%s.name %q of the example Config has no known config keys", field, provider)
	}
	for _, k := range sortedKeys(config) {
		if !slices.Contains(keys.known, k) {
			return fmt.Errorf("%s: unknown key %q for the %s provider's %s.config: valid keys are %s",
				flag, k, provider, field, strings.Join(keys.known, ", "))
		}
	}
	for _, alternatives := range keys.required {
		set := false
		for _, k := range alternatives {
			set = set || config[k] != ""
		}
		if !set {
			return fmt.Errorf("%s: the %s provider's %s.config needs %s: add %s %s=...",
				flag, provider, field, strings.Join(alternatives, " or "), flag, alternatives[0])
		}
	}
	return nil
}
