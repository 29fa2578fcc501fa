package filter

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/pkg/plugin"
)

// ItemSelector is a plugin's ResourceSelector resolved against the
// cluster: which items an item action is called for.
type ItemSelector struct {
	namespaces *IncludesExcludes
	resources  *IncludesExcludes
	labels     labels.Selector
	// none: the selector includes only resources that nothing serves, so
	// it selects nothing (an empty include list would mean everything).
	none bool
}

// NewItemSelector resolves s. known are resource names that may match
// without the cluster serving them (a restore's archive resources). The
// notes say which names matched nothing; an error is a selector that cannot
// be used (a bad label selector).
func NewItemSelector(d *kube.Discovery, known []string, s plugin.ResourceSelector) (*ItemSelector, []string, error) {
	sel := labels.Everything()
	if s.LabelSelector != "" {
		parsed, err := labels.Parse(s.LabelSelector)
		if err != nil {
			return nil, nil, fmt.Errorf("its label selector %q is invalid: %w", s.LabelSelector, err)
		}
		sel = parsed
	}
	resources, unmatched := Resources(d, known, s.IncludedResources, s.ExcludedResources)
	var notes []string
	unmatchedIncludes := 0
	for _, u := range unmatched {
		notes = append(notes, fmt.Sprintf("%s resource %q matches nothing: %v", u.List(), u.Name, u.Err))
		if !u.Excluded {
			unmatchedIncludes++
		}
	}
	return &ItemSelector{
		namespaces: New(s.IncludedNamespaces, s.ExcludedNamespaces),
		resources:  resources,
		labels:     sel,
		none:       len(s.IncludedResources) > 0 && unmatchedIncludes == len(s.IncludedResources),
	}, notes, nil
}

// Matches reports whether the item of resource ("configmaps",
// "deployments.apps") in namespace ("" for cluster-scoped) with these
// labels is selected.
func (s *ItemSelector) Matches(resource, namespace string, itemLabels map[string]string) bool {
	if s.none || !s.resources.ShouldInclude(resource) {
		return false
	}
	if namespace != "" && !s.namespaces.ShouldInclude(namespace) {
		return false
	}
	return s.labels.Empty() || s.labels.Matches(labels.Set(itemLabels))
}
