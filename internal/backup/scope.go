package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/kube"
)

// Scope says what a backup with a given spec takes from the cluster as it is
// now, by the same rules as Run, for tools that compare a backup with the
// cluster (`ark backup diff --include-new` lists what the backup lacks).
// Namespace objects are in scope when their namespace is.
type Scope struct{ e *engine }

// NewScope builds the scope of a backup spec against the cluster's
// discovery.
func NewScope(spec arkv1.BackupSpec, disc *kube.Discovery) (*Scope, error) {
	resources, unmatched := filter.Resources(disc, nil, spec.IncludedResources, spec.ExcludedResources)
	if len(unmatched) > 0 {
		return nil, fmt.Errorf("the backup's spec names a resource this cluster does not serve: %v", unmatched[0].Err)
	}
	selector := labels.Everything()
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("the backup's label selector is invalid: %w", err)
		}
		selector = s
	}
	e := &engine{namespaces: filter.New(spec.IncludedNamespaces, spec.ExcludedNamespaces), resources: resources, selector: selector}
	e.clusterScope = spec.IncludeClusterResources != nil && *spec.IncludeClusterResources ||
		spec.IncludeClusterResources == nil && e.namespaces.IncludesAll()
	return &Scope{e: e}, nil
}

// Resource reports whether the backup lists the resource.
func (s *Scope) Resource(r kube.Resource) bool { return s.e.wantResource(r) }

// Namespace reports whether the backup takes the items (and the Namespace
// object) of a namespace.
func (s *Scope) Namespace(ns string) bool { return s.e.namespaces.ShouldInclude(ns) }

// ExplicitNamespaces are the namespaces the spec names, or nil for "every
// namespace" (but the excluded ones).
func (s *Scope) ExplicitNamespaces() []string { return s.e.namespaces.Explicit() }

// Object reports whether an object matches the backup's label selector.
func (s *Scope) Object(obj *unstructured.Unstructured) bool {
	return s.e.selector.Matches(labels.Set(obj.GetLabels()))
}
