package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	arkv1 "github.com/heptio/ark/api/v1"
)

// selectorsOf turns a spec's labelSelector or orLabelSelectors into the
// selectors items are listed with: one (labels.Everything() when neither is
// set), or one per OR term.
func selectorsOf(spec arkv1.BackupSpec) ([]labels.Selector, error) {
	if spec.LabelSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		return []labels.Selector{s}, nil
	}
	var out []labels.Selector
	for i, ls := range spec.OrLabelSelectors {
		if ls == nil {
			continue
		}
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, fmt.Errorf("invalid orLabelSelectors[%d]: %w", i, err)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return []labels.Selector{labels.Everything()}, nil
	}
	return out, nil
}

// matchedEarlier reports whether labels match one of the selectors before
// the i-th. Listing once per OR term, an item is kept only in the list of
// the first term it matches: no item is written twice, and no set of seen
// items is kept, so memory stays flat.
func matchedEarlier(selectors []labels.Selector, i int, l labels.Set) bool {
	for _, s := range selectors[:i] {
		if s.Matches(l) {
			return true
		}
	}
	return false
}

// selectorSummary renders the selectors for the log.
func selectorSummary(selectors []labels.Selector) string {
	if len(selectors) == 1 {
		return selectors[0].String()
	}
	out := ""
	for i, s := range selectors {
		if i > 0 {
			out += " OR "
		}
		out += "(" + s.String() + ")"
	}
	return out
}

// excludedByLabel reports whether an object carries the exclusion label.
func excludedByLabel(l map[string]string) bool {
	return l[arkv1.ExcludeFromBackupLabel] == "true"
}
