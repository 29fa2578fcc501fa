package restore

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/kube"
)

// Scope says which items of a backup a restore with a given spec would
// restore, for tools that look at a backup the way a restore would (`ark
// backup diff`). It applies the same rules as Run: the resources a restore
// never creates, the namespace and resource filters, includeClusterResources
// (with its default: cluster-scoped items only when every namespace is
// restored, and then persistent volumes bound to a restored claim), the label
// selector, and the objects a controller owns, which their owner recreates.
type Scope struct {
	spec      arkv1.RestoreSpec
	nsFilter  *filter.IncludesExcludes
	resFilter *filter.IncludesExcludes
	selector  labels.Selector
	// Unmatched are the resource names of the spec that name nothing in
	// the cluster or the backup.
	Unmatched []filter.Unmatched
}

// NewScope builds the scope of spec. backedUp are the backup's
// "resource[.group]" names, against which resource names the cluster does
// not serve are matched.
func NewScope(spec arkv1.RestoreSpec, disc *kube.Discovery, backedUp []string) (*Scope, error) {
	selector := labels.Everything()
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		selector = s
	}
	if problems := validateNamespaceMapping(spec.NamespaceMapping); len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	res, unmatched := filter.Resources(disc, backedUp, spec.IncludedResources, spec.ExcludedResources)
	return &Scope{spec: spec, nsFilter: filter.New(spec.IncludedNamespaces, spec.ExcludedNamespaces), resFilter: res, selector: selector, Unmatched: unmatched}, nil
}

// Resource reports whether any item of the resource could be restored.
func (s *Scope) Resource(key string) bool {
	if key == namespacesKey {
		return s.resFilter.ShouldInclude(key)
	}
	_, never := neverRestored[key]
	return !never && s.resFilter.ShouldInclude(key)
}

// Namespace reports whether the items of a backed-up namespace are
// restored (by the filters alone).
func (s *Scope) Namespace(ns string) bool { return s.nsFilter.ShouldInclude(ns) }

// TargetNamespace is where the items of a backed-up namespace go.
func (s *Scope) TargetNamespace(ns string) string {
	if dst := s.spec.NamespaceMapping[ns]; dst != "" {
		return dst
	}
	return ns
}

// SourceNamespace is the backed-up namespace whose items go into the live
// namespace ns: the one mapped to it, else ns itself, or "" when ns is
// mapped elsewhere and nothing is mapped to it.
func (s *Scope) SourceNamespace(ns string) string {
	for src, dst := range s.spec.NamespaceMapping {
		if dst == ns {
			return src
		}
	}
	if dst := s.spec.NamespaceMapping[ns]; dst != "" && dst != ns {
		return ""
	}
	return ns
}

// Item reports whether a restore would restore obj, an item of resource key
// backed up in namespace ns ("" for cluster-scoped), and if not, why.
func (s *Scope) Item(key, ns string, obj *unstructured.Unstructured) (bool, string) {
	if !s.Resource(key) {
		if why, never := neverRestored[key]; never && key != namespacesKey {
			return false, why
		}
		return false, "excluded by the resource filters"
	}
	switch {
	case key == namespacesKey:
		if !s.nsFilter.ShouldInclude(obj.GetName()) {
			return false, "excluded by the namespace filters"
		}
	case ns != "":
		if !s.nsFilter.ShouldInclude(ns) {
			return false, "excluded by the namespace filters"
		}
	default:
		switch clusterScopeFor(key, s.nsFilter, s.spec.IncludeClusterResources) {
		case clusterNone:
			return false, "cluster-scoped, and cluster-scoped resources are not restored"
		case clusterBoundPVs:
			claimNS, _, _ := unstructured.NestedString(obj.Object, "spec", "claimRef", "namespace")
			if claimNS == "" || !s.nsFilter.ShouldInclude(claimNS) || !s.resFilter.ShouldInclude(pvcsKey) {
				return false, "a persistent volume whose claim is not restored"
			}
		}
	}
	if !s.selector.Matches(labels.Set(obj.GetLabels())) {
		return false, "its labels do not match the label selector"
	}
	if kind, owner, ok := controllerOwner(obj); ok {
		return false, fmt.Sprintf("its controller %s %s recreates it", kind, owner)
	}
	return true, ""
}
