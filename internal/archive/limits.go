package archive

import "fmt"

// Defaults used for a zero Limits field. They are far above what a real
// cluster produces and exist so that a hostile archive cannot exhaust memory
// or disk. The Writer refuses to produce an archive that a reader with these
// defaults would refuse, so every backup Ark writes can be restored without
// tuning.
const (
	// DefaultMaxEntrySize bounds one entry. Kubernetes objects are limited
	// by etcd's request size (1.5 MiB by default), so 32 MiB leaves room for
	// clusters that raised it.
	DefaultMaxEntrySize int64 = 32 << 20
	// DefaultMaxEntries bounds the number of resource entries.
	DefaultMaxEntries = 1_000_000
	// DefaultMaxTotalSize bounds the sum of the uncompressed sizes of all
	// entries, metadata included: this is what Extract writes to disk, and
	// what protects against a small gzip stream that inflates enormously.
	// 8 GiB is etcd's largest recommended database.
	DefaultMaxTotalSize int64 = 8 << 30
)

// Limits bounds what a Reader accepts. A zero field means its default.
type Limits struct {
	MaxEntrySize int64 // bytes of one entry; default DefaultMaxEntrySize
	MaxEntries   int   // resource entries; default DefaultMaxEntries
	MaxTotalSize int64 // uncompressed bytes of all entries; default DefaultMaxTotalSize
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxEntrySize < 0 || l.MaxEntries < 0 || l.MaxTotalSize < 0 {
		return l, fmt.Errorf("archive limits must not be negative (got MaxEntrySize=%d MaxEntries=%d MaxTotalSize=%d); use 0 for the defaults", l.MaxEntrySize, l.MaxEntries, l.MaxTotalSize)
	}
	if l.MaxEntrySize == 0 {
		l.MaxEntrySize = DefaultMaxEntrySize
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxTotalSize == 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	return l, nil
}
