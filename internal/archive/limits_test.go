package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// paxBombArchive is a valid archive whose entries are tiny but whose tar
// headers are not: each entry carries a PAX comment record of nearly 1 MiB
// (archive/tar's limit for one PAX header). It compresses to a few KiB per
// MiB.
func paxBombArchive(t testing.TB, version string, entries int) []byte {
	t.Helper()
	comment := strings.Repeat("A", 1000<<10)
	var raw []rawEntry
	if version != "" {
		raw = append(raw, versionFile(version))
	}
	var items []rawEntry
	for i := range entries {
		e := cm("ns1", fmt.Sprintf("cm-%03d", i))
		e.hdr.PAXRecords = map[string]string{"comment": comment}
		e.hdr.Format = tar.FormatPAX
		items = append(items, e)
	}
	raw = append(raw, items...)
	if version == "1" {
		raw = append(raw, indexFor(items...))
	}
	return rawArchive(t, raw...)
}

// PAX headers count against MaxTotalSize: a 50 KiB archive that inflates to
// over 40 MiB of headers around 2 KiB of content is refused by a reader limited to
// 8 MiB, whatever the format.
func TestPAXHeadersCountAgainstMaxTotalSize(t *testing.T) {
	for _, version := range []string{"1", "", "1.1.0"} {
		t.Run("version="+version, func(t *testing.T) {
			// The archive of the report for this Ark's format; smaller ones,
			// still over the limit, for the others.
			entries, over := 42, 40<<20
			if version != "1" {
				entries, over = 10, 9<<20
			}
			data := paxBombArchive(t, version, entries)
			if len(data) > 64<<10 {
				t.Fatalf("the crafted archive is %d bytes; it should be a small one", len(data))
			}
			inflated := len(gunzipAll(t, data))
			if inflated < over {
				t.Fatalf("the crafted archive inflates to %d bytes, want over %d", inflated, over)
			}
			t.Logf("%d compressed bytes inflate to %d", len(data), inflated)

			lim := Limits{MaxTotalSize: 8 << 20}
			_, err := readAll(data, lim)
			checkHostileError(t, "Reader", err, []string{"decompresses to more than 8388608 bytes", "Limits.MaxTotalSize"})
			if _, err := Extract(bytes.NewReader(data), t.TempDir()+"/x", lim); err == nil || !strings.Contains(err.Error(), "Limits.MaxTotalSize") {
				t.Fatalf("Extract = %v", err)
			}
			// The same archive is within a limit that covers its headers.
			if _, err := readAll(data, Limits{MaxTotalSize: int64(inflated) + maxTrailingPadding}); err != nil {
				t.Fatalf("with a limit above its size: %v", err)
			}
		})
	}
}

// The limit holds exactly: an archive of n decompressed bytes is read with
// MaxTotalSize n and refused with n-1.
func TestMaxTotalSizeIsExact(t *testing.T) {
	data, _ := writeArchive(t, sampleItems())
	n := int64(len(gunzipAll(t, data)))
	if _, err := readAll(data, Limits{MaxTotalSize: n}); err != nil {
		t.Fatalf("MaxTotalSize = its size: %v", err)
	}
	_, err := readAll(data, Limits{MaxTotalSize: n - 1})
	var inv *InvalidArchiveError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "Limits.MaxTotalSize") {
		t.Fatalf("MaxTotalSize = its size - 1: %v", err)
	}
}

// The Writer never produces an archive that a reader with the default limit
// refuses: it refuses the item that would pass it, headers of long names
// included, and the archive it finishes reads within the limit.
func TestWriterStaysWithinMaxTotalSize(t *testing.T) {
	const limit = 256 << 10
	defer func(old int64) { writerMaxTotalSize = old }(writerMaxTotalSize)
	writerMaxTotalSize = limit

	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	added, refused := 0, false
	for i := 0; !refused; i++ {
		// Long encoded names need PAX records, the kind of header a
		// per-entry estimate could miss.
		it := Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "ns1", Name: fmt.Sprintf("%s-%d", strings.Repeat("ü\t", 40), i)}
		err := w.Add(it, objectJSON(it))
		var itemErr *ItemError
		switch {
		case err == nil:
			added++
		case errors.As(err, &itemErr) && strings.Contains(err.Error(), "would decompress to more than"):
			refused = true
		default:
			t.Fatalf("Add: %v", err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	size := len(gunzipAll(t, buf.Bytes()))
	if size > limit {
		t.Fatalf("the archive decompresses to %d bytes, over the %d the writer promised", size, limit)
	}
	got, err := readAll(buf.Bytes(), Limits{MaxTotalSize: limit, RequireIndex: true})
	if err != nil || len(got) != added {
		t.Fatalf("read %d of %d items: %v", len(got), added, err)
	}
	t.Logf("%d items, %d of %d bytes", added, size, limit)
}
