package archive

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileNameItems are Roles with names the API server accepts for RBAC
// objects (any path segment) and the old writer refused, plus names that
// differ only in case, Unicode normalisation or their last byte.
func hostileNameItems() []testItem {
	names := []string{
		`back\slash`, `\`, `\\server\share`,
		"tab\there", "new\nline", "carriage\rreturn", "nul\x00byte", "bell\a", "del\x7f", "c1\u0085next",
		"ünïcødé-名前-😀", "\u202eright-to-left", " leading space", "trailing space ", "...", ".hidden",
		"Admin", "admin", "ADMIN",
		"caf\u00e9", "cafe\u0301", // NFC and NFD of the same word
		"system:controller:job-controller", "a<b>&c\"d'",
		strings.Repeat("n", 250), strings.Repeat("n", 251), // the last inline name, the first long one
		strings.Repeat("x", 10<<10), strings.Repeat("x", 10<<10-1) + "y", // 10 KiB, differing in the last byte
		strings.Repeat(`\`, 10<<10), strings.Repeat("é", 5<<10), strings.Repeat("\t", 10<<10),
		strings.Repeat("a", 127) + `\` + strings.Repeat("b", 200), // the long form's prefix ends at an escape
		strings.Repeat("a", 127) + "é" + strings.Repeat("b", 200), // ... or in a rune
		// Kubernetes refuses these, but the encoding is total.
		".", "..", "100%", "a/b", "%2E",
	}
	items := make([]testItem, len(names))
	for i, n := range names {
		it := Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "team-a", Name: n}
		items[i] = testItem{item: it, data: objectJSON(it)}
	}
	return items
}

func TestHostileNamesRoundTripByteForByte(t *testing.T) {
	items := hostileNameItems()
	data, sum := writeArchive(t, items)
	if sum.Items != len(items) {
		t.Fatalf("wrote %d of %d items", sum.Items, len(items))
	}

	got, err := readAll(data, Limits{RequireIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(items) {
		t.Fatalf("read %d items, wrote %d", len(got), len(items))
	}
	for i := range items {
		if got[i].item != items[i].item || !bytes.Equal(got[i].data, items[i].data) {
			t.Fatalf("item %d: read %q, wrote %q", i, got[i].item.Name, items[i].item.Name)
		}
	}

	c, err := Extract(bytes.NewReader(data), filepath.Join(t.TempDir(), "x"), Limits{RequireIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Format.Indexed || c.Format.Origin != OriginArk || c.Items != len(items) {
		t.Fatalf("format %+v, %d items", c.Format, c.Items)
	}
	roles := c.Resources["roles.rbac.authorization.k8s.io"].Namespaces["team-a"]
	var want []string
	for _, it := range items {
		want = append(want, it.item.Name)
		b, err := c.Open(it.item)
		if err != nil || !bytes.Equal(b, it.data) {
			t.Fatalf("Open(%q) = %v", it.item.Name, err)
		}
	}
	slices.Sort(want)
	if got := slices.Collect(roles.All()); !slices.Equal(got, want) {
		t.Fatalf("listing has %d names, want %d; first difference among %q", len(got), len(want), got)
	}
	for _, name := range want {
		if !roles.Contains(name) {
			t.Fatalf("listing does not contain %q", name)
		}
	}
	if roles.Contains("nope") || roles.Contains("admin ") {
		t.Fatal("listing contains a name it does not have")
	}
}

// Every entry name is safe as a relative path and extracts with tar(1): no
// backslash, control character or invalid UTF-8, no component over 255 bytes.
func TestEncodedNamesAreSafePaths(t *testing.T) {
	items := hostileNameItems()
	for _, it := range items {
		p := it.item.Path()
		if problem := unsafePathProblem(p); problem != "" {
			t.Errorf("%q: %s", p, problem)
		}
		for _, part := range strings.Split(p, "/") {
			if len(part) > maxFileNameLen {
				t.Errorf("%q has a component of %d bytes", p, len(part))
			}
		}
	}
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar binary on PATH")
	}
	data, _ := writeArchive(t, items)
	dir := t.TempDir()
	f := filepath.Join(dir, "b.tar.gz")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(tarBin, "-xzf", f, "-C", out).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, b)
	}
	files, err := filepath.Glob(filepath.Join(out, "resources/roles.rbac.authorization.k8s.io/namespaces/team-a/*"))
	if err != nil || len(files) != len(items) {
		t.Fatalf("tar extracted %d files, want %d (%v)", len(files), len(items), err)
	}
}

func TestFileNames(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := map[string]string{
		"cm1":                          "cm1.json",
		"system:controller:job":        "system:controller:job.json",
		"ümlaut":                       "ümlaut.json",
		`a\b`:                          "a%5Cb.json",
		"tab\there":                    "tab%09here.json",
		"new\nline":                    "new%0Aline.json",
		"c1\u0085":                     "c1%C2%85.json",
		"100%":                         "100%25.json",
		"a/b":                          "a%2Fb.json",
		".":                            "%2E.json",
		"..":                           "%2E%2E.json",
		"...":                          "....json",
		"bad\xffutf8":                  "bad%FFutf8.json",
		strings.Repeat("n", 250):       strings.Repeat("n", 250) + ".json",
		long:                           strings.Repeat("x", 128) + "%%" + sha256Hex(long) + ".json",
		strings.Repeat(`\`, 100):       strings.Repeat("%5C", 42) + "%%" + sha256Hex(strings.Repeat(`\`, 100)) + ".json",
		strings.Repeat("é", 200):       strings.Repeat("é", 64) + "%%" + sha256Hex(strings.Repeat("é", 200)) + ".json",
		"é" + strings.Repeat("a", 300): "é" + strings.Repeat("a", 126) + "%%" + sha256Hex("é"+strings.Repeat("a", 300)) + ".json",
	}
	for name, want := range cases {
		got := fileName(name)
		if got != want {
			t.Errorf("fileName(%q) = %q, want %q", name, got, want)
			continue
		}
		if len(got) > maxFileNameLen || !utf8.ValidString(got) {
			t.Errorf("fileName(%q) = %q is not a valid file name", name, got)
		}
		parsed, err := parseFileName(got)
		if err != nil {
			t.Errorf("parseFileName(%q): %v", got, err)
			continue
		}
		if err := parsed.resolve(name); err != nil || parsed.Name != name {
			t.Errorf("parseFileName(%q) gives %q (%v), want %q", got, parsed.Name, err, name)
		}
	}
}

// Only the canonical encoding is read, so no two entry names stand for the
// same object.
func TestParseFileNameRejectsOtherEncodings(t *testing.T) {
	cases := map[string]string{
		"a%5cb.json": "uppercase hex",
		"%61.json":   "not the canonical encoding",
		"a%.json":    "uppercase hex",
		"a%5.json":   "uppercase hex",
		"a%2Fb":      "must end in .json",
		".json":      "empty name",
		"x%%zz.json": "long-name form",
		"x%%" + strings.ToUpper(sha256Hex("x")) + ".json": "long-name form",
		"%2E%2E%2E.json": "not the canonical encoding", // "..." is stored as is
	}
	for file, want := range cases {
		_, err := parseFileName(file)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFileName(%q) = %v, want an error mentioning %q", file, err, want)
		}
	}
	// A long form stands only for a name whose inline form is too long, and
	// only for the name that hashes to it.
	short := "x" + longNameMarker + sha256Hex("short") + ".json"
	parsed, err := parseFileName(short)
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.resolve("short"); err == nil {
		t.Error("a long form was accepted for a short name")
	}
	long := strings.Repeat("l", 400)
	parsed, _ = parseFileName(fileName(long))
	if err := parsed.resolve(long + "x"); err == nil {
		t.Error("a long form was accepted for another name")
	}
}

// The Writer stores every name; only the empty one is an item error.
func TestWriterRefusesOnlyUnstorableNames(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range hostileNameItems() {
		if err := w.Add(it.item, it.data); err != nil {
			t.Fatalf("Add(%q): %v", it.item.Name, err)
		}
	}
	empty := Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "team-a"}
	err = w.Add(empty, []byte("{}"))
	var itemErr *ItemError
	if !errorsAs(err, &itemErr) || !strings.Contains(err.Error(), "empty name") {
		t.Fatalf("Add(empty name) = %v, want an *ItemError", err)
	}
	// A long name is learnt from the object on reading, so the object must
	// carry it.
	long := Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "team-a", Name: strings.Repeat("z", 500)}
	err = w.Add(long, objectJSON(Item{Name: "other"}))
	if !errorsAs(err, &itemErr) || !strings.Contains(err.Error(), "metadata.name") {
		t.Fatalf("Add(long name, other object) = %v, want an *ItemError about metadata.name", err)
	}
	tooLong := Item{Resource: "roles.rbac.authorization.k8s.io", Namespace: "team-a", Name: strings.Repeat("z", maxNameLen+1)}
	if err := w.Add(tooLong, objectJSON(tooLong)); !errorsAs(err, &itemErr) {
		t.Fatalf("Add(%d-byte name) = %v, want an *ItemError", len(tooLong.Name), err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(buf.Bytes(), Limits{RequireIndex: true}); err != nil {
		t.Fatal(err)
	}
}
