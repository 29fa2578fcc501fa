package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
)

// indexEntryJSON is one item of metadata/index.json:
//
//	{"formatVersion":1,"items":[{"path":"resources/...","sha256":"<hex>","size":123}, ...]}
//
// It lists every resource entry (not the two metadata entries) with the
// SHA-256 (lowercase hex) and size of its content.
type indexEntryJSON struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// indexBytesPerEntry bounds the encoded size of one index entry beyond its
// path: the keys, a 64-digit digest, a size and separators. Paths count six
// times over because encoding/json may escape a character as \u00XX.
const (
	indexBytesPerEntry = 160
	indexBytesFixed    = 1024
)

func indexSizeBound(pathLen int) int64 {
	return int64(6*pathLen + indexBytesPerEntry)
}

// digestTable holds, while an archive that may have an index is read, the
// SHA-256 and size of every resource entry: 56 bytes per entry plus the
// map's overhead, keyed by a 128-bit digest of the entry name rather than the
// name itself. It is dropped once the index was checked.
type digestTable map[pathKey]entryDigest

type pathKey [16]byte

type entryDigest struct {
	sum  [sha256.Size]byte
	size int64 // -1 once the index listed the entry
}

func keyOf(path string) pathKey {
	sum := sha256.Sum256([]byte(path))
	return pathKey(sum[:16])
}

// verifyIndex streams metadata/index.json from r, token by token, and checks
// it against the digests of the entries read: every entry listed once, with
// its size and SHA-256, and nothing else. It returns how many entries the
// index listed. The index of a million items is never held whole: only the
// entry being decoded is.
func verifyIndex(r io.Reader, digests digestTable) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	version, sawVersion, listed := 0, false, 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notValid(err)
		}
		switch tok {
		case "formatVersion":
			if err := dec.Decode(&version); err != nil {
				return notValid(err)
			}
			sawVersion = true
		case "items":
			n, err := verifyIndexItems(dec, digests)
			if err != nil {
				return err
			}
			listed += n
		default:
			// A later Ark may add fields; they cannot weaken the checks.
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return notValid(err)
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(indexEntry, "is not a valid index: data follows its closing brace")
	}
	if !sawVersion || version != FormatVersion {
		return invalid(indexEntry, "records format version %d but %s says %d", version, versionEntry, FormatVersion)
	}
	if listed != len(digests) {
		return errUnlisted // named by the caller, which knows the entries
	}
	return nil
}

func verifyIndexItems(dec *json.Decoder, digests digestTable) (int, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, notValid(err)
	}
	if tok == nil {
		return 0, nil // "items": null
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return 0, invalid(indexEntry, "is not a valid index: items is not a list")
	}
	n := 0
	var want [sha256.Size]byte
	for dec.More() {
		var e indexEntryJSON
		if err := dec.Decode(&e); err != nil {
			return n, notValid(err)
		}
		key := keyOf(e.Path)
		d, ok := digests[key]
		switch {
		case !ok:
			return n, invalid(e.Path, "is listed in %s but is not in the archive: entries were removed or the archive is truncated", indexEntry)
		case d.size < 0:
			return n, invalid(e.Path, "is listed twice in %s", indexEntry)
		case e.Size != d.size:
			return n, invalid(e.Path, "size mismatch: %s records %d bytes, the entry has %d", indexEntry, e.Size, d.size)
		}
		if len(e.SHA256) != 2*sha256.Size {
			return n, invalid(e.Path, "%s records %q, which is not a hex SHA-256", indexEntry, e.SHA256)
		}
		if _, err := hex.Decode(want[:], []byte(e.SHA256)); err != nil {
			return n, invalid(e.Path, "%s records %q, which is not a hex SHA-256", indexEntry, e.SHA256)
		}
		if !bytes.Equal(want[:], d.sum[:]) {
			return n, invalid(e.Path, "sha256 mismatch: %s records %s, the entry's content hashes to %s: the entry was modified or corrupted", indexEntry, e.SHA256, hex.EncodeToString(d.sum[:]))
		}
		d.size = -1
		digests[key] = d
		n++
	}
	if err := expectDelim(dec, ']'); err != nil {
		return n, err
	}
	return n, nil
}

var errUnlisted = fmt.Errorf("entries are not listed in %s", indexEntry)

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return notValid(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return invalid(indexEntry, "is not a valid index: expected %q, found %v", string(want), tok)
	}
	return nil
}

func notValid(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &InvalidArchiveError{Entry: indexEntry, Reason: "is not a valid index", Err: err}
}
