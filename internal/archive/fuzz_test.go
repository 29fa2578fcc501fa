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

// FuzzReader feeds arbitrary archives to Reader and Extract, with and without
// Limits.RequireIndex. When compressed is false the input is a tar stream
// that the harness gzips first, so the fuzzer can mutate tar headers instead
// of spending its time on gzip CRCs. The seeds hold every format of Ark's
// lineage (Heptio Ark v0.7 and v0.10, Velero 1.x with version directories,
// archives repacked with directory entries), encoded and long names, and the
// hostile archives.
//
// Invariants: no panic; every item returned is valid (its path parses back to
// it, its data is a JSON object within the limits); no object is returned
// twice by a successful read; an indexed archive's index matches exactly the
// items returned; RequireIndex accepts only indexed archives; Reader and
// Extract agree; a failed Extract leaves nothing; a successful one writes only
// regular files under its directory, with the content Reader returned.
func FuzzReader(f *testing.F) {
	seed := func(archive []byte) {
		for _, strict := range []bool{false, true} {
			f.Add(archive, true, strict)
			if plain := gunzipOrNil(archive); plain != nil {
				f.Add(plain, false, strict)
			}
		}
	}
	valid, _ := writeArchive(f, sampleItems())
	seed(valid)
	names, _ := writeArchive(f, hostileNameItems())
	seed(names)
	for _, c := range lineageArchives(f) {
		seed(c.archive)
	}
	for _, c := range hostileCases(f) {
		seed(c.archive)
	}

	// One directory per fuzz worker, emptied after every input: t.TempDir
	// per input would spend most of the time creating and removing it.
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, input []byte, compressed, strict bool) {
		archive := input
		if !compressed {
			archive = gzipBytes(t, input)
		}
		lim := fuzzLimits
		lim.RequireIndex = strict

		items, format, readErr := readWithFormat(archive, lim)
		if readErr == nil {
			checkItemsUnique(t, items)
			if format.Indexed {
				checkIndexMatches(t, archive, items)
			} else if strict {
				t.Fatalf("RequireIndex accepted an archive without an index: %+v", format)
			}
		}
		for _, it := range items {
			checkItemPath(t, it)
			if int64(len(it.data)) > lim.MaxEntrySize || !isJSONObject(it.data) {
				t.Fatalf("Reader returned %d bytes for %s that break the limits or are not a JSON object", len(it.data), it.item.Path())
			}
		}

		dir := filepath.Join(parent, "extract")
		defer os.RemoveAll(dir)
		contents, extractErr := Extract(bytes.NewReader(archive), dir, lim)
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
		if contents.Format != format || contents.Items != len(items) {
			t.Fatalf("Extract found %+v with %d items, Reader %+v with %d", contents.Format, contents.Items, format, len(items))
		}
		for _, it := range items {
			b, err := contents.Open(it.item)
			if err != nil || !bytes.Equal(b, it.data) {
				t.Fatalf("Open(%s) = %q, %v; Reader returned %q", it.item.Path(), b, err, it.data)
			}
		}
	})
}

// readWithFormat reads an archive to the end and returns its items and its
// format.
func readWithFormat(data []byte, lim Limits) ([]testItem, Format, error) {
	r, err := NewReader(bytes.NewReader(data), lim)
	if err != nil {
		return nil, Format{}, err
	}
	var items []testItem
	for {
		item, b, err := r.Next()
		if err == io.EOF {
			return items, r.Format(), nil
		}
		if err != nil {
			return items, r.Format(), err
		}
		items = append(items, testItem{item: item, data: b})
	}
}

// checkItemPath checks that an item's path stands for it: it parses back to
// the item, or for a long name, to its digest.
func checkItemPath(t *testing.T, it testItem) {
	t.Helper()
	ep, err := parsePath(it.item.Path())
	if err != nil {
		t.Fatalf("Reader returned item %+v whose path %q does not parse (%v)", it.item, it.item.Path(), err)
	}
	if ep.name.LongHash != "" {
		if err := ep.name.resolve(it.item.Name); err != nil {
			t.Fatalf("Reader returned item %+v whose long path does not stand for its name: %v", it.item, err)
		}
		ep.item.Name = ep.name.Name
	}
	if ep.item != it.item {
		t.Fatalf("Reader returned item %+v whose path %q parses back to %+v", it.item, it.item.Path(), ep.item)
	}
}

func checkItemsUnique(t *testing.T, items []testItem) {
	t.Helper()
	seen := map[Item]bool{}
	for _, it := range items {
		if seen[it.item] {
			t.Fatalf("a successful read returned %s twice", it.item)
		}
		seen[it.item] = true
	}
}

// checkIndexMatches compares the archive's own index, read with archive/tar
// alone, with the items Reader returned.
func checkIndexMatches(t *testing.T, archive []byte, items []testItem) {
	t.Helper()
	index, ok := indexInArchive(archive)
	if !ok {
		t.Fatal("Reader says the archive is indexed, archive/tar finds no readable index")
	}
	if index.FormatVersion != FormatVersion || len(index.Items) != len(items) {
		t.Fatalf("index has version %d and %d items; Reader returned %d items", index.FormatVersion, len(index.Items), len(items))
	}
	byPath := make(map[string][]byte, len(items))
	for _, it := range items {
		byPath[it.item.Path()] = it.data
	}
	for _, e := range index.Items {
		p := e.Path
		if ep, err := parsePath(p); err == nil && ep.name.LongHash == "" {
			p = ep.item.Path() // a raw long name is stored at its canonical path
		}
		data, ok := byPath[p]
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
