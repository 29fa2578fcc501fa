package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// testItem is an item and the JSON Ark would store for it.
type testItem struct {
	item Item
	data []byte
}

func objectJSON(item Item) []byte {
	obj := map[string]any{
		"apiVersion": "v1",
		"kind":       "Thing",
		"metadata":   map[string]any{"name": item.Name, "namespace": item.Namespace},
	}
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	return b
}

func sampleItems() []testItem {
	items := []Item{
		{Resource: "namespaces", Name: "ns1"},
		{Resource: "configmaps", Namespace: "ns1", Name: "cm1"},
		{Resource: "configmaps", Namespace: "ns1", Name: "cm2"},
		{Resource: "configmaps", Namespace: "kube-system", Name: "cm1"},
		{Resource: "deployments.apps", Namespace: "ns1", Name: "web"},
		{Resource: "persistentvolumes", Name: "pv1"},
		{Resource: "clusterroles.rbac.authorization.k8s.io", Name: "system:controller:web"},
		{Resource: "widgets.example.com", Namespace: "ns1", Name: "Ünïcode.name"},
	}
	out := make([]testItem, len(items))
	for i, it := range items {
		out[i] = testItem{item: it, data: objectJSON(it)}
	}
	return out
}

// writeArchive builds an archive with the package's Writer.
func writeArchive(t testing.TB, items []testItem) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if err := w.Add(it.item, it.data); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// rawEntry is a tar entry built by hand, to make archives the Writer refuses
// to produce.
type rawEntry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0)}, data: data}
}

func versionFile(v string) rawEntry { return file(versionEntry, []byte(v)) }

// testIndex is metadata/index.json as tests build and read it.
type testIndex struct {
	FormatVersion int              `json:"formatVersion"`
	Items         []indexEntryJSON `json:"items"`
}

// indexFor returns an index entry matching the given entries.
func indexFor(entries ...rawEntry) rawEntry {
	idx := testIndex{FormatVersion: FormatVersion, Items: []indexEntryJSON{}}
	for _, e := range entries {
		sum := sha256.Sum256(e.data)
		idx.Items = append(idx.Items, indexEntryJSON{Path: e.hdr.Name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(e.data))})
	}
	return indexOf(idx)
}

func indexOf(idx testIndex) rawEntry {
	b, err := json.Marshal(idx)
	if err != nil {
		panic(err)
	}
	return file(indexEntry, b)
}

// indexInArchive returns the metadata/index.json of a tar.gz, read with
// archive/tar alone, and whether it has one.
func indexInArchive(data []byte) (testIndex, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return testIndex{}, false
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return testIndex{}, false
		}
		if hdr.Name != indexEntry {
			continue
		}
		var idx testIndex
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil || json.Unmarshal(b, &idx) != nil {
			return testIndex{}, false
		}
		return idx, true
	}
}

// parseItem is the inverse of Item.Path for a name that is not in the long
// form (whose name only the object tells).
func parseItem(p string) (Item, error) {
	ep, err := parsePath(p)
	if err != nil {
		return Item{}, err
	}
	if ep.name.LongHash != "" {
		return Item{}, fmt.Errorf("%q holds a long name: its object tells the name", p)
	}
	return ep.item, nil
}

// tarBytes writes entries as an uncompressed tar.
func tarBytes(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("writing header %q: %v", hdr.Name, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatalf("writing %q: %v", hdr.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawArchive is a tar.gz of the given entries, in order, exactly as given.
func rawArchive(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	return gzipBytes(t, tarBytes(t, entries...))
}

func cm(ns, name string) rawEntry {
	it := Item{Resource: "configmaps", Namespace: ns, Name: name}
	return file(it.Path(), objectJSON(it))
}

// readAll reads an archive with Reader and returns the items it returned
// before the first error.
func readAll(data []byte, lim Limits) ([]testItem, error) {
	r, err := NewReader(bytes.NewReader(data), lim)
	if err != nil {
		return nil, err
	}
	var got []testItem
	for {
		item, b, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return got, nil
			}
			return got, err
		}
		got = append(got, testItem{item: item, data: b})
	}
}

func describe(items []testItem) string {
	var b bytes.Buffer
	for _, it := range items {
		fmt.Fprintf(&b, "%s ", it.item.Path())
	}
	return b.String()
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

func gunzipAll(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
