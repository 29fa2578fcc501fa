package plugin

import (
	"fmt"
	"regexp"
)

// Kind is what a plugin is.
type Kind string

// The kinds of plugins.
const (
	KindObjectStore       Kind = "objectstore"
	KindBlockStore        Kind = "blockstore"
	KindBackupItemAction  Kind = "backupitemaction"
	KindRestoreItemAction Kind = "restoreitemaction"
)

// Kinds lists every kind, in the order they are shown.
var Kinds = []Kind{KindObjectStore, KindBlockStore, KindBackupItemAction, KindRestoreItemAction}

// Descriptor names one plugin a binary serves.
type Descriptor struct {
	Kind Kind
	Name string
}

func (d Descriptor) String() string { return string(d.Kind) + "/" + d.Name }

// nameRE is a DNS domain with at least one dot, a slash, and a name.
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+/[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$`)

// ValidateName checks a plugin's name: a domain the author controls, a
// slash, and a name ("example.com/mystore"). The prefix keeps plugins from
// taking each other's names or a built-in one (aws, gcp, azure, ...).
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("plugin name %q is invalid: use a domain you own, a slash and a name, e.g. example.com/mystore", name)
	}
	return nil
}

func validKind(k Kind) bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}
