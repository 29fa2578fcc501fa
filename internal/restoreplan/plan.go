// Package restoreplan is the plan of a dry-run restore: what a restore would
// do with each item, as the API server's own dry run found, grouped per
// namespace and resource. The restore engine records the items as it goes
// (Spool keeps them on disk, not in memory), the server stores the plan in
// object storage beside the restore's results, and `ark restore describe`
// reads it back (Read).
package restoreplan

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Outcome is what a restore would do with one item.
type Outcome string

const (
	// WouldCreate: the API server accepted the item's dry-run create
	// (admission, schema, quota).
	WouldCreate Outcome = "WouldCreate"
	// Identical: the object exists and is what the backup holds; a
	// restore leaves it.
	Identical Outcome = "Identical"
	// Differs: the object exists and differs from the backup (Reason
	// names the fields); a restore leaves it as it is.
	Differs Outcome = "Differs"
	// WouldFail: the API server refused the dry-run create; Reason is its
	// message.
	WouldFail Outcome = "WouldFail"
	// NotChecked: the API server cannot check the item before the restore
	// has created something it needs (its namespace, its
	// CustomResourceDefinition); Reason says what.
	NotChecked Outcome = "NotChecked"
)

// Item is one item of the plan.
type Item struct {
	Outcome  Outcome `json:"outcome"`
	Resource string  `json:"resource"`
	// Namespace is the target namespace (after namespaceMapping).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Kind      string `json:"kind,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Group counts the items of one resource in one target namespace ("" for
// cluster-scoped ones).
type Group struct {
	Namespace string `json:"namespace,omitempty"`
	Resource  string `json:"resource"`
	arkv1.RestorePlanSummary
}

// Summary is the plan without its items: counts, groups, and notes about
// the restore as a whole (CustomResourceDefinitions and namespaces it would
// create first, quotas it would exceed).
type Summary struct {
	Counts arkv1.RestorePlanSummary `json:"counts"`
	Groups []Group                  `json:"groups"`
	Notes  []string                 `json:"notes,omitempty"`
}

// Recorder receives the items of a dry run, from concurrent workers.
type Recorder interface {
	Record(Item)
}

// Tally counts recorded items per group and passes them on; safe for
// concurrent use. Its memory is one counter set per namespace and resource.
type Tally struct {
	Next Recorder // may be nil

	mu     sync.Mutex
	groups map[groupKey]*arkv1.RestorePlanSummary
	notes  []string
}

type groupKey struct{ namespace, resource string }

// Record counts it and hands it to Next.
func (t *Tally) Record(it Item) {
	t.mu.Lock()
	if t.groups == nil {
		t.groups = map[groupKey]*arkv1.RestorePlanSummary{}
	}
	k := groupKey{it.Namespace, it.Resource}
	g := t.groups[k]
	if g == nil {
		g = &arkv1.RestorePlanSummary{}
		t.groups[k] = g
	}
	add(g, it.Outcome)
	t.mu.Unlock()
	if t.Next != nil {
		t.Next.Record(it)
	}
}

// Note adds a note about the restore as a whole, once.
func (t *Tally) Note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !slices.Contains(t.notes, msg) {
		t.notes = append(t.notes, msg)
	}
}

// Summary is what was recorded so far, groups sorted.
func (t *Tally) Summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Summary{Notes: slices.Clone(t.notes), Groups: []Group{}}
	keys := slices.SortedFunc(maps.Keys(t.groups), func(a, b groupKey) int {
		return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.resource, b.resource))
	})
	for _, k := range keys {
		g := *t.groups[k]
		s.Groups = append(s.Groups, Group{Namespace: k.namespace, Resource: k.resource, RestorePlanSummary: g})
		s.Counts.WouldCreate += g.WouldCreate
		s.Counts.Identical += g.Identical
		s.Counts.Differs += g.Differs
		s.Counts.WouldFail += g.WouldFail
		s.Counts.NotChecked += g.NotChecked
	}
	return s
}

func add(s *arkv1.RestorePlanSummary, o Outcome) {
	switch o {
	case WouldCreate:
		s.WouldCreate++
	case Identical:
		s.Identical++
	case Differs:
		s.Differs++
	case WouldFail:
		s.WouldFail++
	case NotChecked:
		s.NotChecked++
	}
}
