package archive

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep each fuzz run small; the checks are the same at any size.
var fuzzLimits = Limits{MaxEntrySize: 1 << 20, MaxEntries: 1000, MaxTotalSize: 8 << 20}

// FuzzReader feeds arbitrary archives to Reader and Extract. When compressed
// is false the input is a tar stream that the harness gzips first, so the
// fuzzer can mutate tar headers instead of spending its time on gzip CRCs.
//
// Invariants: no panic; every item returned is valid (its path parses back to
// it, its data is a JSON object within the limits); io.EOF comes with an index
// that matches exactly the items returned; Reader and Extract agree; a failed
// Extract leaves nothing; a successful one writes only regular files under its
// directory, with the content Reader returned.
func FuzzReader(f *testing.F) {
	valid, _ := writeArchive(f, sampleItems())
	f.Add(valid, true)
	f.Add(gunzipOrNil(valid), false)
	for _, c := range hostileCases(f) {
		f.Add(c.archive, true)
		if plain := gunzipOrNil(c.archive); plain != nil {
			f.Add(plain, false)
		}
	}

	// One directory per fuzz worker, emptied after every input: t.TempDir
	// per input would spend most of the time creating and removing it.
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, input []byte, compressed bool) {
		archive := input
		if !compressed {
			archive = gzipBytes(t, input)
		}

		items, index, readErr := readWithIndex(archive, fuzzLimits)
		if readErr == nil {
			checkIndexMatches(t, index, items)
		}
		for _, it := range items {
			back, err := ParsePath(it.item.Path())
			if err != nil || back != it.item {
				t.Fatalf("Reader returned item %+v whose path %q does not parse back (%v)", it.item, it.item.Path(), err)
			}
			if int64(len(it.data)) > fuzzLimits.MaxEntrySize || !isJSONObject(it.data) {
				t.Fatalf("Reader returned %d bytes for %s that break the limits or are not a JSON object", len(it.data), it.item.Path())
			}
		}

		dir := filepath.Join(parent, "extract")
		defer os.RemoveAll(dir)
		contents, extractErr := Extract(bytes.NewReader(archive), dir, fuzzLimits)
		if (readErr == nil) != (extractErr == nil) {
			t.Fatalf("Reader and Extract disagree: Reader %v, Extract %v", readErr, extractErr)
		}
		assertOnlyRegularFilesUnder(t, parent, dir)
		if extractErr != nil {
			if contents != nil {
				t.Fatal("Extract returned contents with an error")
			}
			if _, err := os.Lstat(dir); !os.IsNotExist(err) {
				t.Fatalf("failed Extract left %s (%v)", dir, err)
			}
			return
		}
		for _, it := range items {
			b, err := contents.Open(it.item)
			if err != nil || !bytes.Equal(b, it.data) {
				t.Fatalf("Open(%s) = %q, %v; Reader returned %q", it.item.Path(), b, err, it.data)
			}
		}
	})
}

// readWithIndex reads an archive to the end and returns its items, and its
// index when it was read successfully.
func readWithIndex(data []byte, lim Limits) ([]testItem, Index, error) {
	r, err := NewReader(bytes.NewReader(data), lim)
	if err != nil {
		return nil, Index{}, err
	}
	var items []testItem
	for {
		item, b, err := r.Next()
		if err == io.EOF {
			idx, err := r.Index()
			return items, idx, err
		}
		if err != nil {
			return items, Index{}, err
		}
		items = append(items, testItem{item: item, data: b})
	}
}

func checkIndexMatches(t *testing.T, index Index, items []testItem) {
	t.Helper()
	if index.FormatVersion != FormatVersion || len(index.Items) != len(items) {
		t.Fatalf("index has version %d and %d items; Reader returned %d items", index.FormatVersion, len(index.Items), len(items))
	}
	byPath := make(map[string][]byte, len(items))
	for _, it := range items {
		byPath[it.item.Path()] = it.data
	}
	for _, e := range index.Items {
		data, ok := byPath[e.Path]
		sum := sha256.Sum256(data)
		if !ok || int64(len(data)) != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Fatalf("index entry %+v does not match what Reader returned", e)
		}
	}
}

// assertOnlyRegularFilesUnder fails if parent holds anything outside dir, or
// anything under it that is not a regular file or directory.
func assertOnlyRegularFilesUnder(t *testing.T, parent, dir string) {
	t.Helper()
	err := filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != parent && p != dir && !isUnder(p, dir) {
			t.Fatalf("Extract wrote %s, outside %s", p, dir)
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			t.Fatalf("Extract created %s of type %v", p, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

func gunzipOrNil(data []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return nil
	}
	return out
}
