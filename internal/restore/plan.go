package restore

import (
	"fmt"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/kube"
)

// clusterScope says which cluster-scoped items of a resource are restored.
type clusterScope int

const (
	clusterNone clusterScope = iota
	clusterAll
	// clusterBoundPVs: only persistent volumes claimed by a restored PVC,
	// what includeClusterResources=nil means when namespaces are filtered.
	clusterBoundPVs
)

// tier is one resource of the archive, restored completely before the next.
type tier struct {
	key        string // the archive's resource name: "configmaps", "deployments.apps"
	gr         schema.GroupResource
	items      *archive.ResourceItems // all the archive holds of the resource
	copy       versionChoice          // the copy restored: unversioned, or one version's
	namespaces []string               // source namespaces whose items are restored, sorted
	cluster    clusterScope
	total      int // items counted up front; boundPVs ones tentatively
	// tokensPass marks the held-back service account token Secrets, when
	// they are restored after the ServiceAccounts.
	tokensPass bool
}

type plan struct {
	tiers    []tier
	total    int
	warnings []string
}

// makePlan orders the archive's resources and counts the items that pass the
// namespace, resource and scope filters, from the archive's listing alone
// (no item is read).
func makePlan(contents *archive.Contents, disc *kube.Discovery, priorities []string, nsFilter, resFilter *filter.IncludesExcludes, includeCluster *bool) plan {
	keys := make([]string, 0, len(contents.Resources))
	for key := range contents.Resources {
		keys = append(keys, key)
	}
	sort.Strings(keys)

	var p plan
	ordered, warnings := orderKeys(disc, priorities, keys)
	p.warnings = append(p.warnings, warnings...)

	for _, key := range ordered {
		if _, never := neverRestored[key]; never || !resFilter.ShouldInclude(key) {
			continue
		}
		t := tier{key: key, gr: schema.ParseGroupResource(key), items: contents.Resources[key]}
		t.choose(disc, nsFilter, includeCluster)
		if t.total == 0 {
			continue
		}
		p.tiers = append(p.tiers, t)
		p.total += t.total
	}
	return p
}

// choose picks the copy of the tier's resource to restore from what the
// cluster serves now, and counts its items that pass the filters. The
// restore chooses again when the tier starts: CRDs restored before it may
// have changed what is served.
func (t *tier) choose(disc *kube.Discovery, nsFilter *filter.IncludesExcludes, includeCluster *bool) {
	t.copy = chooseVersion(t.key, t.items, disc.Versions(t.gr))
	t.namespaces, t.cluster, t.total = nil, clusterNone, 0
	l := t.copy.listing
	for ns, names := range l.Namespaces {
		if nsFilter.ShouldInclude(ns) && names.Len() > 0 {
			t.namespaces = append(t.namespaces, ns)
			t.total += names.Len()
		}
	}
	sort.Strings(t.namespaces)
	if l.Cluster.Len() > 0 {
		t.cluster = clusterScopeFor(t.key, nsFilter, includeCluster)
		if t.cluster != clusterNone {
			t.total += l.Cluster.Len()
		}
	}
}

// each calls fn with every item of the tier, namespaced ones first, until fn
// returns false; it reports whether every item was handed over.
func (t *tier) each(fn func(archive.Item) bool) bool {
	for _, ns := range t.namespaces {
		for name := range t.copy.listing.Namespaces[ns].All() {
			if !fn(t.copy.item(t.key, ns, name)) {
				return false
			}
		}
	}
	if t.cluster != clusterNone {
		for name := range t.copy.listing.Cluster.All() {
			if !fn(t.copy.item(t.key, "", name)) {
				return false
			}
		}
	}
	return true
}

func clusterScopeFor(key string, nsFilter *filter.IncludesExcludes, includeCluster *bool) clusterScope {
	switch {
	case includeCluster != nil && *includeCluster:
		return clusterAll
	case includeCluster != nil:
		return clusterNone
	case nsFilter.IncludesAll():
		return clusterAll
	case key == pvsKey:
		return clusterBoundPVs
	}
	return clusterNone
}

// orderKeys puts the archive's resources in restore order: the priorities,
// each resolved to the archive's resource name, then the rest alphabetically.
func orderKeys(disc *kube.Discovery, priorities []string, keys []string) (ordered []string, warnings []string) {
	seen := map[string]bool{}
	for _, name := range priorities {
		key, err := priorityKey(disc, name, keys)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("resource priority %q is ignored: %v", name, err))
			continue
		}
		if seen[key] || !slices.Contains(keys, key) {
			continue
		}
		seen[key] = true
		ordered = append(ordered, key)
	}
	for _, key := range keys {
		if !seen[key] {
			ordered = append(ordered, key)
		}
	}
	return ordered, warnings
}

func priorityKey(disc *kube.Discovery, name string, keys []string) (string, error) {
	r, err := disc.Resolve(name)
	if err == nil {
		return r.GroupResource().String(), nil
	}
	// A custom resource whose CRD is only in the backup is not served yet.
	for _, key := range keys {
		if filter.LiteralResourceMatch(name, key) {
			return key, nil
		}
	}
	return "", err
}
