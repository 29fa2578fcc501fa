package restore

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/kube"
)

// namespaceFilter decides on backed-up (source) namespaces, before mapping.
type namespaceFilter struct {
	includeAll bool
	included   map[string]bool
	excluded   map[string]bool
}

func newNamespaceFilter(included, excluded []string) namespaceFilter {
	f := namespaceFilter{included: map[string]bool{}, excluded: map[string]bool{}}
	for _, ns := range included {
		if ns == "*" {
			f.includeAll = true
		}
		f.included[ns] = true
	}
	if len(included) == 0 {
		f.includeAll = true
	}
	for _, ns := range excluded {
		f.excluded[ns] = true
	}
	return f
}

func (f namespaceFilter) includes(ns string) bool {
	if f.excluded[ns] {
		return false
	}
	return f.includeAll || f.included[ns]
}

// everything reports whether every namespace is restored, which is what makes
// cluster-scoped resources restorable when includeClusterResources is unset.
func (f namespaceFilter) everything() bool {
	return f.includeAll && len(f.excluded) == 0
}

// resourceFilter decides on archive resource keys ("configmaps",
// "deployments.apps") from the names a user typed.
type resourceFilter struct {
	disc       *kube.Discovery
	includeAll bool
	included   []string
	excluded   []string
}

func newResourceFilter(disc *kube.Discovery, included, excluded []string) resourceFilter {
	f := resourceFilter{disc: disc, excluded: excluded}
	for _, name := range included {
		if name == "*" {
			f.includeAll = true
		}
	}
	if len(included) == 0 {
		f.includeAll = true
	}
	if !f.includeAll {
		f.included = included
	}
	return f
}

func (f resourceFilter) includes(key string) bool {
	for _, name := range f.excluded {
		if nameMatchesKey(f.disc, name, key) {
			return false
		}
	}
	if f.includeAll {
		return true
	}
	for _, name := range f.included {
		if nameMatchesKey(f.disc, name, key) {
			return true
		}
	}
	return false
}

// unmatchedNames returns a warning for every name that the cluster does not
// serve and that names no resource of the archive either: most likely a typo.
func (f resourceFilter) unmatchedNames(keys []string) []string {
	var warnings []string
	check := func(kind string, names []string) {
		for _, name := range names {
			if name == "*" {
				continue
			}
			_, err := f.disc.Resolve(name)
			if err == nil || slices.ContainsFunc(keys, func(k string) bool { return literalMatch(name, k) }) {
				continue
			}
			warnings = append(warnings, fmt.Sprintf("%s resource %q matches nothing in the cluster or the backup, so it has no effect: %v", kind, name, err))
		}
	}
	check("included", f.included)
	check("excluded", f.excluded)
	return warnings
}

// ResourceNameProblems checks the resource names of a restore's include and
// exclude lists before it starts. A name is fine when the cluster serves it,
// or when it names a resource of the backup: a custom resource whose
// CustomResourceDefinition is only in the backup is served once the restore
// has created it. backedUp are the backup's "resource[.group]" names (its
// status.resourceCounts); when they are unknown (nil, an older backup), names
// the cluster does not serve are accepted, and the restore warns about those
// that match nothing in the archive either.
func ResourceNameProblems(disc *kube.Discovery, backup string, names, backedUp []string) []string {
	var problems []string
	for _, name := range names {
		if name == "*" {
			continue
		}
		_, err := disc.Resolve(name)
		if err == nil || backedUp == nil || slices.ContainsFunc(backedUp, func(k string) bool { return literalMatch(name, k) }) {
			continue
		}
		problems = append(problems, fmt.Sprintf("%v; nor does backup %q hold a resource of that name (it has %s)", err, backup, strings.Join(backedUp, ", ")))
	}
	return problems
}

// nameMatchesKey resolves name through discovery ("deploy", "Deployment",
// "deployments.apps" all name deployments.apps). A name the cluster does not
// serve (yet: the CRD may be in the backup) is compared with the archive's
// own resource names instead.
func nameMatchesKey(disc *kube.Discovery, name, key string) bool {
	if r, err := disc.Resolve(name); err == nil {
		return r.GroupResource().String() == key
	}
	return literalMatch(name, key)
}

func literalMatch(name, key string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	return name == key || name == schema.ParseGroupResource(key).Resource
}

// neverRestored lists resources Ark never creates: nodes belong to the
// cluster, events are history, and Ark's own backups, restores and requests
// would start work or be stale copies. (Schedules and the Config are
// restored: they are how Ark itself is set up.)
var neverRestored = map[string]string{
	"nodes":                   "nodes belong to the cluster they run in",
	"events":                  "events are history, not state",
	"events.events.k8s.io":    "events are history, not state",
	"backups.ark.heptio.com":  "Ark's own backups are synced from object storage, not restored",
	"restores.ark.heptio.com": "restoring Ark's own restores would start them again",
	// A restored deletion request would be carried out again, deleting a
	// backup of the new cluster's bucket; download requests are short-lived
	// links to the old cluster's files.
	"deletebackuprequests.ark.heptio.com": "restoring a deletion request would delete its backup again",
	"downloadrequests.ark.heptio.com":     "download requests are short-lived and belong to the old cluster",
	namespacesKey:                         "namespaces are created before their items, not as items",
}

const (
	namespacesKey = "namespaces"
	crdsKey       = "customresourcedefinitions.apiextensions.k8s.io"
	pvsKey        = "persistentvolumes"
	pvcsKey       = "persistentvolumeclaims"
	podsKey       = "pods"
	jobsKey       = "jobs.batch"
	servicesKey   = "services"
)
