package install

import (
	"errors"
	"fmt"
	"strings"

	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	"github.com/heptio/ark/internal/providerconfig"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
)

// objectStoreKeys and blockStoreKeys look up the config keys a provider
// accepts in the providers' own registries. The server checks them too, but
// only once it runs in the cluster; checking here turns a typo into an error
// before anything is applied.
func objectStoreKeys(name string) (providerconfig.Keys, bool) {
	p, ok := objectproviders.Lookup(name)
	return p.Keys, ok
}

func blockStoreKeys(name string) (providerconfig.Keys, bool) {
	p, ok := snapshotproviders.Lookup(name)
	return p.Keys, ok
}

// checkKeys rejects unknown keys and reports missing required ones, naming
// the flag to fix.
func checkKeys(provider string, config map[string]string, lookup func(string) (providerconfig.Keys, bool), flag, field string) error {
	keys, ok := lookup(provider)
	if !ok {
		return fmt.Errorf("%s.name %q of the example Config is not a known provider", field, provider)
	}
	err := keys.Check(config)
	var unknown *providerconfig.UnknownKeyError
	var missing *providerconfig.MissingKeyError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%s: unknown key %q for the %s provider's %s.config: valid keys are %s",
			flag, unknown.Key, provider, field, strings.Join(unknown.Known, ", "))
	case errors.As(err, &missing):
		return fmt.Errorf("%s: the %s provider's %s.config needs %s: add %s %s=...",
			flag, provider, field, strings.Join(missing.Alternatives, " or "), flag, missing.Alternatives[0])
	}
	return err
}
