// Package archive is Ark's backup file format: the gzipped tar that holds the
// Kubernetes objects of one backup. docs/output-file-format.md is its
// specification.
//
// Layout (format version 1):
//
//	metadata/version                                      "1", always the first entry
//	resources/<resource>[.<group>]/namespaces/<ns>/<name>.json
//	resources/<resource>[.<group>]/cluster/<name>.json
//	resources/<resource>[.<group>]/<version>[-preferredversion]/{namespaces/<ns>,cluster}/<name>.json
//	metadata/index.json                                   always the last entry
//
// The core group has no ".<group>" suffix (resources/configmaps/...). Names
// are encoded so that every name the API server accepts is storable and every
// path is safe (names.go). Version directories hold other API versions of the
// same objects, for a backup of every served version. The index lists every
// resource entry with its SHA-256 and size, so a reader can tell a complete
// archive from a truncated, reordered or edited one. The whole compressed
// stream is additionally hashed by the Writer (Summary) so that the Backup
// object can record it and VerifyingReader can check the copy in object
// storage before anything is restored from it.
//
// The Reader also reads the layouts of Ark's lineage, which share the item
// layout but have no index (format.go): Heptio Ark v0.7–v0.11 and Velero 1.x,
// and archives repacked with tar(1). Format says which one it found, and
// whether its items could be verified.
//
// Files: writer.go writes; reader.go reads and checks, with stream.go (the
// stream under it), index.go (the index and the digest table), format.go
// (the formats of the lineage), layout.go and names.go (paths and the name
// encoding), listing.go (what an archive holds, compactly) and limits.go
// (bounds); extract.go writes a checked archive to disk for a restore;
// verify.go checks the whole-archive digest.
//
// Writer streams: it holds one item at a time plus the index (one path and
// digest per item). Reader holds at most one entry, bounded by
// Limits.MaxEntrySize, the names of the items read (about their length plus 4
// bytes each) and, for an archive that has an index, a 32-byte digest per
// entry until the index, which it reads as a stream, was checked. Every name
// is validated before it is used, so a hostile archive cannot make Extract
// write outside its directory, and every count and size (the decompressed
// stream's, headers included) is bounded by Limits so it cannot exhaust
// memory or disk.
package archive
