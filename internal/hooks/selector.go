package hooks

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/heptio/ark/internal/filter"
)

// selector is the "which pods" part of a resource hook spec, the same for
// backups and restores.
type selector struct {
	namespaces *filter.IncludesExcludes
	// pods is false when the spec excludes pods: it then selects nothing.
	pods   bool
	labels labels.Selector
}

// selectorSpec is the fields a backup's and a restore's resource hook specs
// share.
type selectorSpec struct {
	name                                   string
	includedNamespaces, excludedNamespaces []string
	includedResources, excludedResources   []string
	labelSelector                          *metav1.LabelSelector
}

func newSelector(s selectorSpec) (selector, error) {
	if problems := validateSelector(s); len(problems) > 0 {
		return selector{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	sel := selector{
		namespaces: filter.New(s.includedNamespaces, s.excludedNamespaces),
		pods:       filter.New(podNames(s.includedResources), podNames(s.excludedResources)).ShouldInclude("pods"),
		labels:     labels.Everything(),
	}
	if s.labelSelector != nil {
		sel.labels, _ = metav1.LabelSelectorAsSelector(s.labelSelector) // checked by validateSelector
	}
	return sel, nil
}

func (s selector) matches(p Pod) bool {
	return s.pods && s.namespaces.ShouldInclude(p.Namespace) && s.labels.Matches(labels.Set(p.Labels))
}

// podNames maps the names users type for pods to "pods", so the filter
// compares like with like ("*" stays itself).
func podNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if isPodsName(n) && n != "*" {
			n = "pods"
		}
		out[i] = n
	}
	return out
}

// isPodsName reports whether a resource name of a hook spec means pods.
func isPodsName(n string) bool {
	switch strings.ToLower(n) {
	case "*", "pods", "pod", "po", "pods.":
		return true
	}
	return false
}

// validateSelector returns every problem of the selector part of a hook
// spec, each naming the fix.
func validateSelector(s selectorSpec) []string {
	var problems []string
	where := fmt.Sprintf("hook %q", s.name)
	if s.name == "" {
		where = "a hook with no name"
		problems = append(problems, "a resource hook has no name: give each entry of hooks.resources a name, used in logs and messages")
	}
	for _, l := range filter.ValidateLists("namespace", s.includedNamespaces, s.excludedNamespaces) {
		problems = append(problems, where+": "+l)
	}
	for _, l := range filter.ValidateLists("resource", s.includedResources, s.excludedResources) {
		problems = append(problems, where+": "+l)
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"includedResources", s.includedResources}, {"excludedResources", s.excludedResources}} {
		for _, n := range l.names {
			if !isPodsName(n) {
				problems = append(problems, fmt.Sprintf("%s: %s names %q, but hooks run only in pods: use \"pods\" or leave %s empty", where, l.field, n, l.field))
			}
		}
	}
	if s.labelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(s.labelSelector); err != nil {
			problems = append(problems, fmt.Sprintf("%s: invalid label selector: %v (example of a valid one: app=nginx,tier!=db)", where, err))
		}
	}
	return problems
}
