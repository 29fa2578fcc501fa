// Package archive is Ark's backup file format: the gzipped tar that holds the
// Kubernetes objects of one backup.
//
// Layout (format version 1, as Heptio Ark):
//
//	metadata/version                                      "1", always the first entry
//	resources/<resource>[.<group>]/namespaces/<ns>/<name>.json
//	resources/<resource>[.<group>]/cluster/<name>.json
//	metadata/index.json                                   always the last entry
//
// The core group has no ".<group>" suffix (resources/configmaps/...). The index
// lists every resource entry with its SHA-256 and size, so a reader can tell a
// complete archive from a truncated, reordered or edited one. The whole
// compressed stream is additionally hashed by the Writer (Summary) so that the
// Backup object can record it and VerifyingReader can check the copy in object
// storage before anything is restored from it.
//
// Writer streams: it holds one item at a time plus the index (one path and
// digest per item). Reader holds at most one entry, bounded by
// Limits.MaxEntrySize, plus the digests of the entries read so far and, at the
// end, the index. Every name is validated before it is used, so a hostile
// archive cannot make Extract write outside its directory, and every count and
// size is bounded by Limits so it cannot exhaust memory or disk.
package archive
