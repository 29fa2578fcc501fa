package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	items := sampleItems()
	data, sum := writeArchive(t, items)

	raw := sha256.Sum256(data)
	if sum.SHA256 != hex.EncodeToString(raw[:]) || sum.Size != int64(len(data)) || sum.Items != len(items) {
		t.Fatalf("summary %+v does not describe the %d-byte stream (sha256 %x) of %d items", sum, len(data), raw, len(items))
	}

	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range items {
		item, b, err := r.Next()
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if item != want.item || !bytes.Equal(b, want.data) {
			t.Fatalf("item %d = %+v %s, want %+v %s", i, item, b, want.item, want.data)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last item Next = %v, want io.EOF", err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next after EOF = %v, want io.EOF again", err)
	}
	if f := r.Format(); f != (Format{Origin: OriginArk, Version: "1", Indexed: true}) || f.Unverified() != "" {
		t.Fatalf("format %+v", f)
	}
	idx, ok := indexInArchive(data)
	if !ok {
		t.Fatal("archive/tar finds no index")
	}
	if idx.FormatVersion != FormatVersion || len(idx.Items) != len(items) {
		t.Fatalf("index %+v", idx)
	}
	for i, e := range idx.Items {
		s := sha256.Sum256(items[i].data)
		if e.Path != items[i].item.Path() || e.SHA256 != hex.EncodeToString(s[:]) || e.Size != int64(len(items[i].data)) {
			t.Errorf("index entry %d = %+v", i, e)
		}
	}
}

func TestEmptyArchiveRoundTrip(t *testing.T) {
	data, sum := writeArchive(t, nil)
	if sum.Items != 0 {
		t.Fatalf("items = %d", sum.Items)
	}
	got, err := readAll(data, Limits{})
	if err != nil || len(got) != 0 {
		t.Fatalf("readAll = %s, %v", describe(got), err)
	}
}

// The layout must be readable by ordinary tools, metadata/version first and
// the index last.
func TestArchiveLayoutWithSystemTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar binary on PATH")
	}
	data, _ := writeArchive(t, sampleItems())
	f := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tarBin, "-tzf", f).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tzf: %v\n%s", err, out)
	}
	names := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{versionEntry}
	for _, it := range sampleItems() {
		want = append(want, it.item.Path())
	}
	want = append(want, indexEntry)
	if !slices.Equal(names, want) {
		t.Fatalf("tar lists\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	version, err := exec.Command(tarBin, "-xzOf", f, versionEntry).Output()
	if err != nil || string(version) != "1" {
		t.Fatalf("metadata/version = %q, %v", version, err)
	}
}

func TestWriterRejects(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	good := Item{Resource: "configmaps", Namespace: "ns1", Name: "cm1"}
	if err := w.Add(good, objectJSON(good)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		item Item
		data []byte
		want string
	}{
		{good, objectJSON(good), "already in the archive"},
		{Item{Resource: "configmaps", Namespace: "ns1", Name: ""}, []byte("{}"), "empty name"},
		{Item{Resource: "configmaps", Namespace: "../x", Name: "a"}, []byte("{}"), "namespace"},
		{Item{Resource: "../configmaps", Namespace: "ns1", Name: "a"}, []byte("{}"), "resource"},
		{Item{Resource: "", Namespace: "ns1", Name: "a"}, []byte("{}"), "resource"},
		{Item{Resource: "configmaps", Version: "V1", Namespace: "ns1", Name: "a"}, []byte("{}"), "API version"},
		{Item{Resource: "configmaps", Version: "namespaces", Namespace: "ns1", Name: "a"}, []byte("{}"), "API version"},
		{Item{Resource: "configmaps", Preferred: true, Namespace: "ns1", Name: "a"}, []byte("{}"), "needs its Version"},
		{Item{Resource: "configmaps", Namespace: "ns1", Name: "a"}, []byte("not json"), "not a JSON object"},
		{Item{Resource: "configmaps", Namespace: "ns1", Name: "a"}, []byte(`["array"]`), "not a JSON object"},
		{Item{Resource: "configmaps", Namespace: "ns1", Name: "a"}, []byte(`{"truncated":`), "not a JSON object"},
		{Item{Resource: "configmaps", Namespace: "ns1", Name: "a"}, append([]byte(`{"a":"`), append(bytes.Repeat([]byte("x"), int(DefaultMaxEntrySize)), '"', '}')...), "more than"},
	}
	for _, c := range cases {
		err := w.Add(c.item, c.data)
		var itemErr *ItemError
		if !errors.As(err, &itemErr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%+v) = %v, want an *ItemError mentioning %q", c.item, err, c.want)
		}
	}
	// Refused items wrote nothing: the archive holds exactly the good item.
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(buf.Bytes(), Limits{})
	if err != nil || len(got) != 1 || got[0].item != good {
		t.Fatalf("archive holds %s (err %v), want only %s", describe(got), err, good.Path())
	}
	if err := w.Add(good, objectJSON(good)); err == nil {
		t.Error("Add after Close succeeded")
	}
	if _, err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("upload connection reset")
	}
	f.after--
	return len(p), nil
}

func TestWriterDestinationErrorIsSticky(t *testing.T) {
	w, err := NewWriter(&failingWriter{})
	if err != nil {
		t.Fatal(err) // buffered: nothing reached the destination yet
	}
	// Enough incompressible-ish data to overflow the buffer.
	var addErr error
	for i := 0; i < 10000 && addErr == nil; i++ {
		it := Item{Resource: "configmaps", Namespace: "ns1", Name: "cm-" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + hex.EncodeToString([]byte{byte(i), byte(i >> 8)})}
		sum := sha256.Sum256([]byte(it.Name))
		addErr = w.Add(it, []byte(`{"random":"`+hex.EncodeToString(sum[:])+`"}`))
	}
	if addErr == nil || !strings.Contains(addErr.Error(), "upload connection reset") {
		t.Fatalf("Add error = %v, want the destination's error", addErr)
	}
	it := Item{Resource: "configmaps", Namespace: "ns2", Name: "later"}
	if err := w.Add(it, []byte("{}")); err == nil || !strings.Contains(err.Error(), "upload connection reset") {
		t.Fatalf("Add after failure = %v, want the same error", err)
	}
	if _, err := w.Close(); err == nil || !strings.Contains(err.Error(), "upload connection reset") {
		t.Fatalf("Close after failure = %v, want the same error", err)
	}
}

func TestExtractRoundTrip(t *testing.T) {
	items := sampleItems()
	long := Item{Resource: "configmaps", Namespace: "ns1", Name: strings.Repeat("l", 300)}
	items = append(items, testItem{item: long, data: objectJSON(long)})
	data, sum := writeArchive(t, items)

	dir := filepath.Join(t.TempDir(), "restore")
	vr := NewVerifyingReader(bytes.NewReader(data))
	c, err := Extract(vr, dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := vr.Verify(sum.SHA256, sum.Size); err != nil {
		t.Fatalf("Verify after Extract: %v", err)
	}
	if c.Dir != dir || c.Items != len(items) || !c.Format.Indexed {
		t.Fatalf("contents %+v", c)
	}
	for _, it := range items {
		b, err := c.Open(it.item)
		if err != nil {
			t.Fatalf("Open(%s): %v", it.item, err)
		}
		if !bytes.Equal(b, it.data) {
			t.Fatalf("Open(%s) = %s, want %s", it.item, b, it.data)
		}
	}
	cms := c.Resources["configmaps"]
	names := func(l *NameList) []string { return slices.Collect(l.All()) }
	if cms == nil || !slices.Equal(names(cms.Namespaces["ns1"]), []string{"cm1", "cm2", long.Name}) || !slices.Equal(names(cms.Namespaces["kube-system"]), []string{"cm1"}) || cms.Cluster.Len() != 0 {
		t.Fatalf("configmaps = %+v", cms)
	}
	if pvs := c.Resources["persistentvolumes"]; pvs == nil || !slices.Equal(names(&pvs.Cluster), []string{"pv1"}) || len(pvs.Namespaces) != 0 {
		t.Fatalf("persistentvolumes = %+v", pvs)
	}
	if d := c.Resources["deployments.apps"]; d == nil || !slices.Equal(names(d.Namespaces["ns1"]), []string{"web"}) {
		t.Fatalf("deployments.apps = %+v", d)
	}
	if len(c.Resources) != 6 {
		t.Fatalf("resources = %v", c.Resources)
	}
	// The layout is kept on disk, and files are private (backups hold Secrets).
	fi, err := os.Stat(filepath.Join(dir, "resources/deployments.apps/namespaces/ns1/web.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("extracted file mode %v, want 0600", fi.Mode().Perm())
	}
	missing := Item{Resource: "configmaps", Namespace: "ns1", Name: "nope"}
	if _, err := c.Open(missing); err == nil || !strings.Contains(err.Error(), "has no configmaps ns1/nope") {
		t.Errorf("Open(missing) = %v", err)
	}
	if _, err := c.Open(Item{Resource: "configmaps", Namespace: "ns1", Name: "../../../etc/passwd"}); err == nil {
		t.Error("Open of an unsafe name succeeded")
	}
}

func TestExtractRefusesNonEmptyDir(t *testing.T) {
	data, _ := writeArchive(t, sampleItems())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(bytes.NewReader(data), dir, Limits{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Extract into a non-empty dir = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Fatalf("Extract touched an existing file: %v", err)
	}
	// An existing empty directory is accepted.
	empty := t.TempDir()
	if _, err := Extract(bytes.NewReader(data), empty, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyingReader(t *testing.T) {
	data, sum := writeArchive(t, sampleItems())

	vr := NewVerifyingReader(bytes.NewReader(data))
	if err := vr.Verify(sum.SHA256, sum.Size); err == nil || !strings.Contains(err.Error(), "not all of it") {
		t.Fatalf("Verify before EOF = %v", err)
	}
	if _, err := readAllFrom(vr); err != nil {
		t.Fatal(err)
	}
	if err := vr.Verify(sum.SHA256, sum.Size); err != nil {
		t.Fatal(err)
	}
	if err := vr.Verify(strings.ToUpper(sum.SHA256), sum.Size); err != nil {
		t.Fatalf("hex case should not matter: %v", err)
	}
	wrong := strings.Repeat("0", 64)
	err := vr.Verify(wrong, sum.Size)
	want := "archive digest mismatch: the backup's recorded sha256 is " + wrong + ", the archive in object storage has " + sum.SHA256 + ": the archive was modified or corrupted; do not restore from it"
	if err == nil || err.Error() != want {
		t.Fatalf("Verify(wrong) = %v\nwant %s", err, want)
	}
	if err := vr.Verify(sum.SHA256, sum.Size+1); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Fatalf("Verify(wrong size) = %v", err)
	}
	if err := vr.Verify("", sum.Size); err == nil || !strings.Contains(err.Error(), "records no sha256") {
		t.Fatalf("Verify(no digest) = %v", err)
	}
}

// An attacker who can write to the bucket can rebuild a self-consistent
// archive (with a matching index); the archive checks pass and only the digest
// recorded in the Backup catches it. This is why restores verify it.
func TestVerifyCatchesSelfConsistentTampering(t *testing.T) {
	items := sampleItems()
	_, sum := writeArchive(t, items)
	items[1].data = []byte(`{"kind":"ConfigMap","data":{"evil":"yes"}}`)
	tampered, _ := writeArchive(t, items)

	vr := NewVerifyingReader(bytes.NewReader(tampered))
	if _, err := Extract(vr, filepath.Join(t.TempDir(), "x"), Limits{}); err != nil {
		t.Fatalf("a self-consistent archive should pass the format checks: %v", err)
	}
	if err := vr.Verify(sum.SHA256, sum.Size); err == nil || !strings.Contains(err.Error(), "archive digest mismatch") {
		t.Fatalf("Verify = %v, want a digest mismatch", err)
	}
}

// readAllFrom reads r to EOF through Reader, as a restore does.
func readAllFrom(r io.Reader) (int, error) {
	ar, err := NewReader(r, Limits{})
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, _, err := ar.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

type brokenSource struct {
	data  []byte
	after int
}

var errNetwork = errors.New("connection reset by peer")

func (b *brokenSource) Read(p []byte) (int, error) {
	if b.after <= 0 {
		return 0, errNetwork
	}
	n := copy(p, b.data[:min(len(b.data), b.after, len(p))])
	b.data = b.data[n:]
	b.after -= n
	return n, nil
}

// A source that fails (a dropped download) is reported as such, not as a
// corrupt archive, so callers can retry; Extract still cleans up.
func TestSourceErrorIsNotCalledCorruption(t *testing.T) {
	data, _ := writeArchive(t, sampleItems())
	for _, cut := range []int{0, 5, 100, len(data) / 2, len(data) - 1} {
		_, err := readAllFrom(&brokenSource{data: data, after: cut})
		var inv *InvalidArchiveError
		if !errors.Is(err, errNetwork) || errors.As(err, &inv) {
			t.Errorf("cut at %d: Reader error %v, want the source's error and no InvalidArchiveError", cut, err)
		}
		dir := filepath.Join(t.TempDir(), "x")
		if _, err := Extract(&brokenSource{data: data, after: cut}, dir, Limits{}); !errors.Is(err, errNetwork) {
			t.Errorf("cut at %d: Extract error %v, want the source's error", cut, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cut at %d: Extract left %s", cut, dir)
		}
	}
}
