package archive

import (
	"errors"
	"fmt"
	"io"
)

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
	// DefaultMaxTotalSize bounds the decompressed size of the whole archive:
	// every byte the gzip stream inflates to, tar headers, PAX records and
	// padding included, not only the entries' content. It bounds what
	// Extract writes to disk and what a small gzip stream can make the
	// reader chew through. 8 GiB is etcd's largest recommended database.
	DefaultMaxTotalSize int64 = 8 << 30
)

// Limits bounds what a Reader accepts. A zero field means its default.
type Limits struct {
	MaxEntrySize int64 // bytes of one entry; default DefaultMaxEntrySize
	MaxEntries   int   // resource entries; default DefaultMaxEntries
	MaxTotalSize int64 // decompressed bytes of the whole archive; default DefaultMaxTotalSize
	// RequireIndex accepts only this Ark's own format, whose index lets
	// every entry be verified; the formats of Heptio Ark and Velero, which
	// have none, are refused. Set it for a backup that this Ark wrote.
	RequireIndex bool
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

var errTooLarge = errors.New("the decompressed archive exceeds Limits.MaxTotalSize")

// boundedReader counts the bytes the gzip stream inflates to and fails once
// they pass max, whatever part of the tar stream they belong to.
type boundedReader struct {
	r      io.Reader
	n, max int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.max {
		return 0, errTooLarge
	}
	if room := b.max - b.n + 1; int64(len(p)) > room {
		p = p[:room]
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	if b.n > b.max {
		return k - int(b.n-b.max), errTooLarge
	}
	return k, err
}
