package archive

import (
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
)

// ResourceItems lists what an archive holds of one resource.
type ResourceItems struct {
	// Listing is the unversioned copy: resources/<resource>/{cluster,namespaces}.
	Listing
	// PreferredVersion is the source cluster's preferred API version, when
	// the archive says (a "<version>-preferredversion" directory), else "".
	PreferredVersion string
	// Versions maps each version directory ("v1", "v2beta1") to its items;
	// nil when the archive has none for this resource.
	Versions map[string]*Listing
}

// Listing is the items of one directory of a resource: cluster-scoped names
// and the names in each namespace, each list sorted.
type Listing struct {
	Cluster    NameList
	Namespaces map[string]*NameList
}

// Len is the number of items listed.
func (l *Listing) Len() int {
	n := l.Cluster.Len()
	for _, names := range l.Namespaces {
		n += names.Len()
	}
	return n
}

// NameList is a sorted list of object names held in one buffer: about the
// length of the name plus 4 bytes per item, against the 16-byte header and
// separate allocation of a string in a []string. A restore of a million
// objects keeps every name for its whole run.
type NameList struct {
	data []byte
	ends []uint32 // ends[i] is where name i ends in data
}

// Len is the number of names.
func (l *NameList) Len() int {
	if l == nil {
		return 0
	}
	return len(l.ends)
}

// At returns name i (0 <= i < Len), as a new string.
func (l *NameList) At(i int) string {
	return string(l.bytesAt(i))
}

func (l *NameList) bytesAt(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]]
}

// All yields the names in order.
func (l *NameList) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range l.Len() {
			if !yield(l.At(i)) {
				return
			}
		}
	}
}

// Contains reports whether name is in the list.
func (l *NameList) Contains(name string) bool {
	n := l.Len()
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if strings.Compare(string(l.bytesAt(mid)), name) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < n && string(l.bytesAt(lo)) == name
}

// add appends a name; sort must be called before the list is used. It
// reports false when the list's buffer would pass 4 GiB.
func (l *NameList) add(name string) bool {
	if uint64(len(l.data))+uint64(len(name)) > math.MaxUint32 {
		return false
	}
	l.data = append(l.data, name...)
	l.ends = append(l.ends, uint32(len(l.data)))
	return true
}

// sortAndCheck sorts the names, trims the buffers to their length, and
// returns a name that appears twice, if any.
func (l *NameList) sortAndCheck() (dup string, found bool) {
	n := len(l.ends)
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = string(l.bytesAt(i-1)) < string(l.bytesAt(i))
	}
	if !sorted {
		order := make([]uint32, n)
		for i := range order {
			order[i] = uint32(i)
		}
		slices.SortFunc(order, func(a, b uint32) int {
			return strings.Compare(string(l.bytesAt(int(a))), string(l.bytesAt(int(b))))
		})
		data := make([]byte, 0, len(l.data))
		ends := make([]uint32, n)
		for i, j := range order {
			data = append(data, l.bytesAt(int(j))...)
			ends[i] = uint32(len(data))
		}
		l.data, l.ends = data, ends
	} else {
		// append grew them up to twice their length; the list lives as
		// long as the restore.
		l.data, l.ends = slices.Clone(l.data), slices.Clone(l.ends)
	}
	for i := 1; i < n; i++ {
		if string(l.bytesAt(i-1)) == string(l.bytesAt(i)) {
			return l.At(i), true
		}
	}
	return "", false
}

// listingBuilder collects the Contents listing as a Reader reads entries.
type listingBuilder struct {
	resources map[string]*ResourceItems
	// forms records, per resource and version, whether its directory is the
	// "-preferredversion" one: an archive must not have both.
	forms map[resourceVersion]bool
}

type resourceVersion struct{ resource, version string }

func newListingBuilder() listingBuilder {
	return listingBuilder{resources: map[string]*ResourceItems{}, forms: map[resourceVersion]bool{}}
}

func (b *listingBuilder) add(it Item) error {
	ri := b.resources[it.Resource]
	if ri == nil {
		ri = &ResourceItems{}
		b.resources[it.Resource] = ri
	}
	l := &ri.Listing
	if it.Version != "" {
		rv := resourceVersion{it.Resource, it.Version}
		if preferred, seen := b.forms[rv]; seen && preferred != it.Preferred {
			return fmt.Errorf("version %s of %s is stored both in %s/ and in %s%s/", it.Version, it.Resource, it.Version, it.Version, preferredSuffix)
		} else if !seen {
			b.forms[rv] = it.Preferred
		}
		if it.Preferred {
			if ri.PreferredVersion != "" && ri.PreferredVersion != it.Version {
				return fmt.Errorf("%s has two preferred versions, %s and %s", it.Resource, ri.PreferredVersion, it.Version)
			}
			ri.PreferredVersion = it.Version
		}
		if ri.Versions == nil {
			ri.Versions = map[string]*Listing{}
		}
		if l = ri.Versions[it.Version]; l == nil {
			l = &Listing{}
			ri.Versions[it.Version] = l
		}
	}
	names := &l.Cluster
	if it.Namespace != "" {
		if l.Namespaces == nil {
			l.Namespaces = map[string]*NameList{}
		}
		if names = l.Namespaces[it.Namespace]; names == nil {
			names = &NameList{}
			l.Namespaces[it.Namespace] = names
		}
	}
	if !names.add(it.Name) {
		return fmt.Errorf("the names of one directory add up to more than 4 GiB")
	}
	return nil
}

// each calls fn for every item listed, in no particular order.
func (b *listingBuilder) each(fn func(Item)) {
	for res, ri := range b.resources {
		eachIn(&ri.Listing, Item{Resource: res}, fn)
		for v, l := range ri.Versions {
			eachIn(l, Item{Resource: res, Version: v, Preferred: b.forms[resourceVersion{res, v}]}, fn)
		}
	}
}

func eachIn(l *Listing, it Item, fn func(Item)) {
	for name := range l.Cluster.All() {
		it.Name = name
		fn(it)
	}
	for ns, names := range l.Namespaces {
		it.Namespace = ns
		for name := range names.All() {
			it.Name = name
			fn(it)
		}
	}
}

// finish sorts every name list and returns an item listed twice, if any: two
// entry names that decode to the same object.
func (b *listingBuilder) finish() (Item, bool) {
	var dup Item
	found := false
	check := func(l *Listing, it Item) {
		if name, twice := l.Cluster.sortAndCheck(); twice && !found {
			it.Name = name
			dup, found = it, true
		}
		for ns, names := range l.Namespaces {
			if name, twice := names.sortAndCheck(); twice && !found {
				it.Namespace, it.Name = ns, name
				dup, found = it, true
			}
		}
	}
	for res, ri := range b.resources {
		check(&ri.Listing, Item{Resource: res})
		for v, l := range ri.Versions {
			check(l, Item{Resource: res, Version: v, Preferred: b.forms[resourceVersion{res, v}]})
		}
	}
	b.forms = nil
	return dup, found
}
