// Package backupdiff compares a backup with the live cluster, or with
// another backup, the way a restore sees them: only the items a restore with
// the given filters would restore (restore.Scope), each normalized
// (restore.Normalize) so that what the cluster manages (resourceVersion,
// uid, managedFields, status, timestamps, generation, allocated IPs and
// ports, Ark's restore label) never shows as a change, then compared field by
// field (objdiff).
//
// It streams: the archive is read once, in its order, and the live objects of
// each resource and namespace are read with paginated LISTs as the archive
// reaches them (cursor.go), so memory holds one page per resource being
// compared plus the differences found, not the cluster. Two backups are
// compared through a compact digest of each item of the first (backups.go).
// docs/verification.md says what is ignored and why.
package backupdiff

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/objdiff"
	"github.com/heptio/ark/internal/restore"
)

// Status is what became of one object.
type Status string

// The statuses of an object, seen from the first side (the backup) to the
// second (the cluster, or the second backup).
const (
	Unchanged Status = "unchanged"
	// Changed: both sides have it and they differ.
	Changed Status = "changed"
	// Gone: the first side has it, the second does not.
	Gone Status = "gone"
	// New: the second side has it, the first does not (with IncludeNew
	// only, for a cluster).
	New Status = "new"
	// Error: it could not be compared; Reason says why.
	Error Status = "error"
)

// Counts counts objects by status. Skipped counts the backup's items a
// restore with the filters would not restore, which were not compared.
type Counts struct {
	Unchanged int `json:"unchanged"`
	Changed   int `json:"changed"`
	Gone      int `json:"gone"`
	New       int `json:"new"`
	Errors    int `json:"errors,omitempty"`
	Skipped   int `json:"skipped,omitempty"`
}

func (c *Counts) add(s Status, n int) {
	switch s {
	case Unchanged:
		c.Unchanged += n
	case Changed:
		c.Changed += n
	case Gone:
		c.Gone += n
	case New:
		c.New += n
	case Error:
		c.Errors += n
	}
}

// ResourceCounts is the counts of one resource.
type ResourceCounts struct {
	Resource string `json:"resource"`
	Counts
}

// Item is one object that is not unchanged.
type Item struct {
	Status   Status `json:"status"`
	Resource string `json:"resource"`
	// Namespace is where the object is on the second side (the target of a
	// namespace mapping); BackedUpNamespace where the backup has it, when
	// that differs.
	Namespace         string `json:"namespace,omitempty"`
	BackedUpNamespace string `json:"backedUpNamespace,omitempty"`
	Name              string `json:"name"`
	// Paths are the changed fields; Changes, with Options.Details, their
	// values too.
	Paths   []string         `json:"paths,omitempty"`
	Changes []objdiff.Change `json:"changes,omitempty"`
	Reason  string           `json:"reason,omitempty"`
}

// Report is a comparison's outcome.
type Report struct {
	// First and Second describe what was compared, for people.
	First  string `json:"first"`
	Second string `json:"second"`
	// IncludesNew says whether the second side was searched for objects
	// the first lacks.
	IncludesNew bool             `json:"includesNew"`
	Total       Counts           `json:"total"`
	Resources   []ResourceCounts `json:"resources"`
	Items       []Item           `json:"items"`
	// Notes are warnings about the comparison itself (a filter that
	// matches nothing, a resource that could not be listed).
	Notes []string `json:"notes,omitempty"`
}

// Options are what both comparisons take.
type Options struct {
	// Scope is the restore whose view is taken: filters, namespace
	// mapping, label selector. Required.
	Scope *restore.Scope
	// Details keeps the values of changed fields, not only their paths.
	Details bool
	// Limits bound what is accepted from an archive.
	Limits archive.Limits
}

// reporter collects the outcome: counts per resource, and the items that
// differ (new ones by key, as a later look may retract them).
type reporter struct {
	details bool
	counts  map[string]*Counts
	items   []Item
	newAt   map[itemKey]int // index in items of each New item
	notes   []string
}

type itemKey struct{ resource, namespace, name string }

func newReporter(details bool) *reporter {
	return &reporter{details: details, counts: map[string]*Counts{}, newAt: map[itemKey]int{}}
}

func (r *reporter) count(resource string) *Counts {
	c := r.counts[resource]
	if c == nil {
		c = &Counts{}
		r.counts[resource] = c
	}
	return c
}

func (r *reporter) skip(resource string) { r.count(resource).Skipped++ }

func (r *reporter) unchanged(resource string) { r.count(resource).Unchanged++ }

func (r *reporter) add(it Item) {
	r.count(it.Resource).add(it.Status, 1)
	if it.Status == New {
		k := itemKey{it.Resource, it.Namespace, it.Name}
		if _, dup := r.newAt[k]; dup {
			r.count(it.Resource).add(New, -1)
			return
		}
		r.newAt[k] = len(r.items)
	}
	r.items = append(r.items, it)
}

// retractNew takes back an object reported New that turned out to be in
// the first side after all (an archive out of order).
func (r *reporter) retractNew(resource, namespace, name string) {
	k := itemKey{resource, namespace, name}
	i, ok := r.newAt[k]
	if !ok {
		return
	}
	delete(r.newAt, k)
	r.items[i].Status = "" // dropped in report()
	r.count(resource).add(New, -1)
}

func (r *reporter) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(r.notes, msg) {
		r.notes = append(r.notes, msg)
	}
}

// compared records the comparison of two normalized objects.
func (r *reporter) compared(it Item, first, second *unstructured.Unstructured) {
	changes := objdiff.Compare(first.Object, second.Object)
	if len(changes) == 0 {
		r.unchanged(it.Resource)
		return
	}
	it.Status = Changed
	it.Paths = objdiff.Paths(changes)
	if r.details {
		it.Changes = changes
	}
	r.add(it)
}

func (r *reporter) report(first, second string, includesNew bool) *Report {
	rep := &Report{First: first, Second: second, IncludesNew: includesNew, Notes: r.notes, Items: []Item{}}
	for _, res := range slices.Sorted(maps.Keys(r.counts)) {
		c := *r.counts[res]
		rep.Resources = append(rep.Resources, ResourceCounts{Resource: res, Counts: c})
		rep.Total.Unchanged += c.Unchanged
		rep.Total.Changed += c.Changed
		rep.Total.Gone += c.Gone
		rep.Total.New += c.New
		rep.Total.Errors += c.Errors
		rep.Total.Skipped += c.Skipped
	}
	for _, it := range r.items {
		if it.Status != "" {
			rep.Items = append(rep.Items, it)
		}
	}
	slices.SortFunc(rep.Items, func(a, b Item) int {
		return strings.Compare(a.Resource+"\x00"+a.Namespace+"\x00"+a.Name, b.Resource+"\x00"+b.Namespace+"\x00"+b.Name)
	})
	return rep
}

// decode reads an archive item as an object.
func decode(item archive.Item, data []byte) (*unstructured.Unstructured, error) {
	// The same decoding as the dynamic client's, so that numbers are
	// int64 on both sides.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s is not a Kubernetes object: %w", item, err)
	}
	return obj, nil
}

// normalized is a normalized deep copy of obj.
func normalized(resource string, obj *unstructured.Unstructured) *unstructured.Unstructured {
	c := obj.DeepCopy()
	restore.Normalize(resource, c)
	return c
}
