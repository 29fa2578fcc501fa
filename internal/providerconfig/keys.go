// Package providerconfig describes the config map a storage provider accepts
// (the backupStorageProvider.config and persistentVolumeProvider.config of
// the Ark Config). Each provider declares its Keys once; the provider checks
// its config with them when it is built, and `ark install` checks its flags
// with the same Keys before anything is applied.
package providerconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Keys are the config keys of one provider.
type Keys struct {
	// Known are every key the provider reads.
	Known []string
	// Required lists groups of alternatives: one key of each group must be
	// set (aws: region, or s3Url for S3-compatible storage).
	Required [][]string
	// Hint is added to the unknown-key message, e.g. where the settings that
	// are not config keys come from.
	Hint string
}

// UnknownKeyError names a config key the provider does not read.
type UnknownKeyError struct {
	Key   string
	Known []string
	Hint  string
}

func (e *UnknownKeyError) Error() string {
	msg := fmt.Sprintf("unknown config key %q; valid keys are %s", e.Key, strings.Join(e.Known, ", "))
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// MissingKeyError names a group of alternatives none of which is set.
type MissingKeyError struct{ Alternatives []string }

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("config needs %s", strings.Join(e.Alternatives, " or "))
}

// CheckUnknown returns an *UnknownKeyError for the first key of config (in
// sorted order, so the message is stable) that is not Known.
func (k Keys) CheckUnknown(config map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(config)) {
		if !slices.Contains(k.Known, key) {
			return &UnknownKeyError{Key: key, Known: k.Known, Hint: k.Hint}
		}
	}
	return nil
}

// Check is CheckUnknown, then a *MissingKeyError for the first group of
// Required alternatives of which no key is set.
func (k Keys) Check(config map[string]string) error {
	if err := k.CheckUnknown(config); err != nil {
		return err
	}
	for _, alternatives := range k.Required {
		if !slices.ContainsFunc(alternatives, func(key string) bool { return config[key] != "" }) {
			return &MissingKeyError{Alternatives: alternatives}
		}
	}
	return nil
}

// Provider is one entry of a provider registry: its name, its config keys
// and its constructor, of type New.
type Provider[New any] struct {
	Name string
	Keys Keys
	New  New
}

// Registry is the list of the providers of one kind, in the order their
// names are shown to users.
type Registry[New any] []Provider[New]

// Names lists the providers' names.
func (r Registry[New]) Names() []string {
	names := make([]string, len(r))
	for i, p := range r {
		names[i] = p.Name
	}
	return names
}

// Lookup returns the provider called name.
func (r Registry[New]) Lookup(name string) (Provider[New], bool) {
	for _, p := range r {
		if p.Name == name {
			return p, true
		}
	}
	return Provider[New]{}, false
}

// With returns the registry with extra providers after its own, or an error
// when a name is taken twice.
func (r Registry[New]) With(extra ...Provider[New]) (Registry[New], error) {
	out := slices.Clone(r)
	for _, p := range extra {
		if _, taken := out.Lookup(p.Name); taken {
			return nil, fmt.Errorf("provider name %q is taken twice", p.Name)
		}
		out = append(out, p)
	}
	return out, nil
}
