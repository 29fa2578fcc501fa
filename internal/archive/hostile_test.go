package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type hostileCase struct {
	name    string
	archive []byte
	lim     Limits
	// want are substrings the error must contain: the entry and the problem.
	want []string
	// Without Limits.RequireIndex, archives are read as any format of Ark's
	// lineage: lenientWant replaces want when the problem is then found
	// differently, and legacyOK marks an archive that is then a valid one
	// of an older format (read as unverified).
	lenientWant []string
	legacyOK    bool
}

func hostileCases(t testing.TB) []hostileCase {
	ok1 := cm("ns1", "cm1")
	ok2 := cm("ns1", "cm2")
	v := versionFile("1")
	withEntry := func(e rawEntry) []byte { return rawArchive(t, v, ok1, e, indexFor(ok1, e)) }
	link := func(typ byte, name, target string) rawEntry {
		return rawEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
	}
	badSum := indexFor(ok1)
	var idx testIndex
	_ = json.Unmarshal(badSum.data, &idx)
	idx.Items[0].SHA256 = strings.Repeat("ab", 32)
	badHashIndex := indexOf(idx)
	idx.Items[0].SHA256 = indexForSHA(ok1)
	idx.Items[0].Size++
	badSizeIndex := indexOf(idx)
	idx.Items[0].Size--
	idx.Items = append(idx.Items, idx.Items[0])
	dupIndex := indexOf(idx)
	idx = testIndex{FormatVersion: 2, Items: []indexEntryJSON{}}
	v2Index := indexOf(idx)

	valid := rawArchive(t, v, ok1, ok2, indexFor(ok1, ok2))
	var multi bytes.Buffer
	multi.Write(valid)
	multi.Write(gzipBytes(t, []byte("more")))

	return []hostileCase{
		{name: "dotdot", archive: withEntry(file("resources/configmaps/namespaces/ns1/../../../../etc/evil.json", []byte("{}"))), want: []string{`"resources/configmaps/namespaces/ns1/../../../../etc/evil.json"`, `".." component`}},
		{name: "dotdot-first", archive: rawArchive(t, file("../evil", []byte("{}"))), want: []string{`"../evil"`, `".." component`}},
		{name: "absolute", archive: withEntry(file("/etc/cron.d/evil.json", []byte("{}"))), want: []string{`"/etc/cron.d/evil.json"`, "absolute path"}},
		{name: "backslash", archive: withEntry(file(`resources\configmaps\cluster\x.json`, []byte("{}"))), want: []string{`configmaps\\cluster`, "backslash"}},
		// archive/tar itself refuses a NUL in a PAX path, and cuts USTAR and GNU
		// names at the first NUL, so such a name never reaches the checks here.
		{name: "nul", archive: nulNameArchive(t), want: []string{"corrupted after entry", ok1.hdr.Name, "invalid tar header"}},
		{name: "symlink", archive: withEntry(link(tar.TypeSymlink, "resources/configmaps/cluster/x.json", "/etc/passwd")), want: []string{"resources/configmaps/cluster/x.json", `symbolic link to "/etc/passwd"`}},
		{name: "hardlink", archive: withEntry(link(tar.TypeLink, "resources/configmaps/cluster/x.json", "/etc/shadow")), want: []string{"resources/configmaps/cluster/x.json", `hard link to "/etc/shadow"`}},
		{name: "device", archive: withEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "resources/configmaps/cluster/x.json", Devmajor: 1, Devminor: 3}}), want: []string{"resources/configmaps/cluster/x.json", "device file"}},
		{name: "fifo", archive: withEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "resources/configmaps/cluster/x.json"}}), want: []string{"resources/configmaps/cluster/x.json", "FIFO"}},
		{name: "directory", archive: withEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "resources/configmaps/", Mode: 0o755}}), want: []string{"resources/configmaps/", "empty component"}, lenientWant: []string{`"resources/configmaps/"`, "not in the archive"}},
		{name: "directory-clean-name", archive: withEntry(rawEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "resources/configmaps", Mode: 0o755}}), want: []string{`"resources/configmaps"`, "is a directory"}, lenientWant: []string{`"resources/configmaps"`, "not in the archive"}},
		{name: "deeper-than-layout", archive: withEntry(file("resources/configmaps/namespaces/ns1/sub/x.json", []byte("{}"))), want: []string{"resources/configmaps/namespaces/ns1/sub/x.json", "not part of the backup layout"}},
		{name: "outside-resources", archive: withEntry(file("etc/passwd", []byte("{}"))), want: []string{`"etc/passwd"`, "not part of the backup layout"}},
		{name: "unknown-metadata", archive: withEntry(file("metadata/extra", []byte("{}"))), want: []string{"metadata/extra", "unknown metadata entry"}},
		{name: "duplicate", archive: rawArchive(t, v, ok1, ok1, indexFor(ok1)), want: []string{ok1.hdr.Name, "appears twice"}},
		{name: "duplicate-version", archive: rawArchive(t, v, ok1, v, indexFor(ok1)), want: []string{versionEntry, "appears twice"}},
		{name: "not-json", archive: withEntry(file("resources/configmaps/cluster/x.json", []byte("#!/bin/sh\nrm -rf /"))), want: []string{"resources/configmaps/cluster/x.json", "not a JSON object"}},
		{name: "json-not-object", archive: withEntry(file("resources/configmaps/cluster/x.json", []byte(`"str"`))), want: []string{"resources/configmaps/cluster/x.json", "not a JSON object"}},
		{name: "entry-too-large", archive: withEntry(file("resources/configmaps/cluster/big.json", []byte(`{"a":"`+strings.Repeat("x", 200)+`"}`))), lim: Limits{MaxEntrySize: 100}, want: []string{"resources/configmaps/cluster/big.json", "Limits.MaxEntrySize"}},
		{name: "too-many-entries", archive: rawArchive(t, v, ok1, ok2, indexFor(ok1, ok2)), lim: Limits{MaxEntries: 1}, want: []string{ok2.hdr.Name, "more than 1 items"}},
		{name: "too-many-bytes", archive: rawArchive(t, v, ok1, ok2, indexFor(ok1, ok2)), lim: Limits{MaxTotalSize: 5*512 + int64(len(ok2.data)) - 1}, want: []string{ok2.hdr.Name, "Limits.MaxTotalSize"}},
		{name: "missing-index", archive: rawArchive(t, v, ok1, ok2), want: []string{ok2.hdr.Name, "without metadata/index.json", "truncated"}, legacyOK: true},
		{name: "extra-entry", archive: rawArchive(t, v, ok1, ok2, indexFor(ok1)), want: []string{ok2.hdr.Name, "not listed in metadata/index.json"}},
		{name: "index-lists-missing", archive: rawArchive(t, v, ok1, indexFor(ok1, ok2)), want: []string{ok2.hdr.Name, "is not in the archive"}},
		{name: "index-hash-mismatch", archive: rawArchive(t, v, ok1, badHashIndex), want: []string{ok1.hdr.Name, "sha256 mismatch", strings.Repeat("ab", 32)}},
		{name: "index-size-mismatch", archive: rawArchive(t, v, ok1, badSizeIndex), want: []string{ok1.hdr.Name, "size mismatch"}},
		{name: "index-duplicate", archive: rawArchive(t, v, ok1, dupIndex), want: []string{ok1.hdr.Name, "listed twice"}},
		{name: "index-bad-version", archive: rawArchive(t, v, v2Index), want: []string{indexEntry, "format version 2"}},
		{name: "index-not-json", archive: rawArchive(t, v, ok1, file(indexEntry, []byte("{nope"))), want: []string{indexEntry, "not a valid index"}},
		{name: "index-too-large", archive: rawArchive(t, v, ok1, file(indexEntry, append([]byte(`{"formatVersion":1,"items":[]}`), bytes.Repeat([]byte(" "), 5000)...))), want: []string{indexEntry, "an index of 1 items can need"}},
		{name: "entry-after-index", archive: rawArchive(t, v, ok1, indexFor(ok1), ok2), want: []string{ok2.hdr.Name, "must be the last entry"}},
		{name: "missing-version", archive: rawArchive(t, ok1, indexFor(ok1)), want: []string{ok1.hdr.Name, "first entry must be metadata/version"}, lenientWant: []string{indexEntry, "Heptio Ark v0.7", "has no index"}},
		{name: "unknown-version", archive: rawArchive(t, versionFile("2"), ok1, indexFor(ok1)), want: []string{versionEntry, "format version 2 is not supported"}},
		{name: "garbled-version", archive: rawArchive(t, versionFile("one"), ok1, indexFor(ok1)), want: []string{versionEntry, `"one" is not a format version`}},
		{name: "huge-version", archive: rawArchive(t, versionFile(strings.Repeat("1", 100)), ok1, indexFor(ok1)), want: []string{versionEntry, "at most 64"}},
		{name: "version-symlink", archive: rawArchive(t, link(tar.TypeSymlink, versionEntry, "/etc/passwd")), want: []string{versionEntry, "symbolic link"}},
		{name: "global-header", archive: rawArchive(t, v, rawEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "x"}}}, ok1, indexFor(ok1)), want: []string{"pax_global_header", "PAX global header"}},
		{name: "not-gzip", archive: []byte("this is not a gzip stream, just text pretending to be a backup"), want: []string{"not gzip-compressed"}},
		{name: "plain-tar", archive: tarBytes(t, v, ok1, indexFor(ok1)), want: []string{"not gzip-compressed"}},
		{name: "empty-input", archive: nil, want: []string{"empty"}},
		{name: "gzip-of-nothing", archive: gzipBytes(t, nil), want: []string{"no entries"}},
		{name: "gzip-of-garbage", archive: gzipBytes(t, bytes.Repeat([]byte("garbage!"), 200)), want: []string{"corrupted at its start"}},
		{name: "truncated", archive: valid[:len(valid)*2/3], want: []string{"truncated"}},
		{name: "truncated-gzip-trailer", archive: valid[:len(valid)-4], want: []string{"truncated"}},
		{name: "trailing-gzip-member", archive: multi.Bytes(), want: []string{"data follows the end of the gzip stream"}},
		{name: "trailing-garbage", archive: append(append([]byte{}, valid...), "junk"...), want: []string{"data follows the end of the gzip stream"}},
		{name: "data-after-tar-end", archive: gzipBytes(t, append(tarBytes(t, v, ok1, indexFor(ok1)), "hidden payload"...)), want: []string{"data follows the end of the tar archive"}},
		{name: "lying-size-header", archive: lyingSizeArchive(t, 30<<20), want: []string{"resources/configmaps/cluster/liar.json", "truncated", "promises 31457280 bytes"}},
	}
}

// nulNameArchive has an entry whose PAX path record contains a NUL byte.
func nulNameArchive(t testing.TB) []byte {
	t.Helper()
	ok1 := cm("ns1", "cm1")
	evil := file("resources/configmaps/cluster/xZé.json", []byte("{}"))
	raw := tarBytes(t, versionFile("1"), ok1, evil, indexFor(ok1, evil))
	i := bytes.Index(raw, []byte("path=resources/configmaps/cluster/xZ"))
	if i < 0 {
		t.Fatal("no PAX path record to corrupt")
	}
	raw[i+len("path=resources/configmaps/cluster/x")] = 0
	return gzipBytes(t, raw)
}

func indexForSHA(e rawEntry) string {
	var idx testIndex
	_ = json.Unmarshal(indexFor(e).data, &idx)
	return idx.Items[0].SHA256
}

// lyingSizeArchive has an entry whose header claims size bytes but whose
// stream ends after a few. archive/tar cannot write such a header, so the
// header block is written by hand.
func lyingSizeArchive(t testing.TB, size int64) []byte {
	t.Helper()
	prefix := tarBytes(t, versionFile("1"))
	prefix = prefix[:len(prefix)-1024] // drop the end-of-archive blocks
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "resources/configmaps/cluster/liar.json", Size: size, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	// tw is abandoned without Close: only the header block is wanted.
	return gzipBytes(t, append(append(prefix, hdr.Bytes()...), `{"a":1}`...))
}

func TestHostileArchivesAreRejected(t *testing.T) {
	for _, c := range hostileCases(t) {
		for _, strict := range []bool{true, false} {
			mode := "lenient"
			if strict {
				mode = "strict"
			}
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				lim := c.lim
				if lim.MaxEntrySize == 0 {
					lim.MaxEntrySize = 32 << 20
				}
				lim.RequireIndex = strict
				want := c.want
				if !strict && c.lenientWant != nil {
					want = c.lenientWant
				}
				if !strict && c.legacyOK {
					checkReadAsUnverified(t, c.archive, lim)
					return
				}
				_, err := readAll(c.archive, lim)
				checkHostileError(t, "Reader", err, want)

				parent := t.TempDir()
				dir := filepath.Join(parent, "restore")
				contents, err := Extract(bytes.NewReader(c.archive), dir, lim)
				if contents != nil {
					t.Errorf("Extract returned contents for a hostile archive")
				}
				checkHostileError(t, "Extract", err, want)
				if _, statErr := os.Lstat(dir); !os.IsNotExist(statErr) {
					t.Errorf("Extract left %s behind after failing (stat: %v)", dir, statErr)
				}
				assertOnlyUnder(t, parent, dir)
			})
		}
	}
}

// checkReadAsUnverified checks that an archive is read, as one of a format
// without an index, and says so.
func checkReadAsUnverified(t *testing.T, data []byte, lim Limits) {
	t.Helper()
	c, err := Extract(bytes.NewReader(data), filepath.Join(t.TempDir(), "x"), lim)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if c.Format.Indexed || c.Format.Unverified() == "" {
		t.Fatalf("format %+v: an archive without an index must be reported as unverified", c.Format)
	}
}

func checkHostileError(t *testing.T, who string, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s accepted a hostile archive", who)
	}
	var inv *InvalidArchiveError
	if !errors.As(err, &inv) {
		t.Errorf("%s error %q is not an *InvalidArchiveError", who, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s error %q does not mention %q", who, err, w)
		}
	}
}

// assertOnlyUnder fails if anything in parent is outside dir.
func assertOnlyUnder(t *testing.T, parent, dir string) {
	t.Helper()
	err := filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == parent || p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) {
			if d.Type()&os.ModeSymlink != 0 {
				t.Errorf("Extract created a symlink %s", p)
			}
			return nil
		}
		t.Errorf("Extract wrote %s, outside %s", p, dir)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A header that lies about its size must not make the reader allocate what it
// claims: memory is bounded by the bytes actually present.
func TestLyingHeaderDoesNotAllocateItsClaim(t *testing.T) {
	const claim = 30 << 20
	data := lyingSizeArchive(t, claim)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readAll(data, Limits{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > claim/4 {
		t.Fatalf("reading a header claiming %d bytes allocated %d bytes", claim, grew)
	}
}

// Every truncation of a valid archive is refused, whatever the cut point.
func TestEveryTruncationIsRejected(t *testing.T) {
	valid, _ := writeArchive(t, sampleItems())
	for n := 0; n < len(valid); n++ {
		if _, err := readAll(valid[:n], Limits{}); err == nil {
			t.Fatalf("an archive cut to %d of %d bytes was accepted", n, len(valid))
		}
	}
}

// Every single-bit corruption of the compressed stream is either refused
// (gzip's CRC, flate, the tar checksums or the index catch it) or is inert:
// it sits in a gzip header field or in deflate data that decodes to the same
// bytes (a back-reference moved to an identical run), so the items read are
// exactly the original ones.
func TestBitFlipsAreRejectedOrInert(t *testing.T) {
	items := sampleItems()
	valid, _ := writeArchive(t, items)
	inert := 0
	for i := range valid {
		for bit := 0; bit < 8; bit++ {
			flipped := append([]byte{}, valid...)
			flipped[i] ^= 1 << bit
			got, err := readAll(flipped, Limits{})
			if err != nil {
				continue
			}
			inert++
			if len(got) != len(items) {
				t.Fatalf("flip of byte %d bit %d accepted with %d items, want %d", i, bit, len(got), len(items))
			}
			for j := range got {
				if got[j].item != items[j].item || !bytes.Equal(got[j].data, items[j].data) {
					t.Fatalf("flip of byte %d bit %d accepted with changed item %d: %s %s", i, bit, j, got[j].item.Path(), got[j].data)
				}
			}
		}
	}
	t.Logf("%d of %d single-bit flips were inert; all others were rejected", inert, 8*len(valid))
}

func TestGzipHeaderOnlyStream(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_ = gz.Flush()
	if _, err := readAll(buf.Bytes(), Limits{}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("readAll = %v", err)
	}
}

func TestNegativeLimitsAreRefused(t *testing.T) {
	valid, _ := writeArchive(t, sampleItems())
	if _, err := NewReader(bytes.NewReader(valid), Limits{MaxEntries: -1}); err == nil || !strings.Contains(err.Error(), "must not be negative") {
		t.Fatalf("NewReader = %v", err)
	}
}
