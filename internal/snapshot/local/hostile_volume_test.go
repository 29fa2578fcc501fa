package local

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/heptio/ark/internal/objectstore/memstore"
)

// serverSecret is what a hostile pod is after: a file the Ark server can
// read and the pod cannot, such as the server's cloud credentials.
const serverSecret = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// harmless is the volume file the pod swaps: as long as serverSecret, so a
// snapshot that followed the swapped-in symlink would copy the whole
// secret (it copies the size it listed).
var harmless = strings.Repeat("h", len(serverSecret))

// leaks reports whether any part of serverSecret is in raw.
func leaks(raw []byte) bool { return bytes.Contains(raw, []byte(serverSecret[:16])) }

// snapshotEntries takes a snapshot of src and returns its archive's entries
// (name -> header) and the archive's whole decompressed stream.
func snapshotEntries(t *testing.T, b *BlockStore, store *memstore.Store, src string) (map[string]*tar.Header, []byte, error) {
	t.Helper()
	id, err := b.CreateSnapshot(context.Background(), src, "", nil)
	if err != nil {
		return nil, nil, err
	}
	rc, err := store.GetObject(context.Background(), testBucket, b.archiveKey(id))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = hdr
	}
	return entries, raw, nil
}

// setBeforeOpen installs the hook between Lstat and Open for one test.
func setBeforeOpen(t *testing.T, hook func(name string)) {
	t.Cleanup(func() { beforeOpen = nil })
	beforeOpen = hook
}

// TestSnapshotNeverFollowsASwappedInSymlink plays the race a pod that
// writes its volume can run against the snapshot: an entry is a regular
// file (or a directory) when the walk looks at it, and a symlink to a file
// of the server's when the snapshot opens it. The hook makes the swap
// happen exactly in that window.
func TestSnapshotNeverFollowsASwappedInSymlink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		swap   string // the entry swapped
		target func(outside string) string
	}{
		{"file to an absolute symlink out", "data/f", func(outside string) string { return filepath.Join(outside, "credentials") }},
		{"file to a relative symlink out", "data/f", func(string) string { return "../../outside/credentials" }},
		{"directory to a symlink to a directory out", "data", func(outside string) string { return outside }},
		{"volume file to a symlink to another volume file", "data/f", func(string) string { return "../other" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			outside := filepath.Join(tmp, "outside")
			if err := os.MkdirAll(outside, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(outside, "credentials"), []byte(serverSecret), 0o600); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(tmp, "vol")
			if err := os.MkdirAll(filepath.Join(src, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "data", "f"), []byte(harmless), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "other"), []byte("other file of the volume"), 0o644); err != nil {
				t.Fatal(err)
			}
			swapped := 0
			setBeforeOpen(t, func(name string) {
				if name != tc.swap || swapped > 0 {
					return
				}
				swapped++
				p := filepath.Join(src, filepath.FromSlash(name))
				if err := os.RemoveAll(p); err != nil {
					t.Error(err)
				}
				if err := os.Symlink(tc.target(outside), p); err != nil {
					t.Error(err)
				}
			})
			store := memstore.New(testBucket)
			b := newStore(t, store, "")
			entries, raw, err := snapshotEntries(t, b, store, src)
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			if swapped != 1 {
				t.Fatalf("the hook swapped %d times: the snapshot never opened %s", swapped, tc.swap)
			}
			if leaks(raw) {
				t.Fatal("the server's credentials file is in the snapshot")
			}
			hdr := entries[tc.swap]
			if hdr == nil || hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != tc.target(outside) {
				t.Errorf("entry %s = %+v, want the symlink -> %s that the volume held when it was read again", tc.swap, hdr, tc.target(outside))
			}
			if bytes.Count(raw, []byte("other file of the volume")) > 1 {
				t.Error("the symlink was followed to another file of the volume")
			}
		})
	}
}

// TestSnapshotRecordsSymlinksOut: symlinks that point out of the volume
// from the start are recorded as symlinks, whatever they point at.
func TestSnapshotRecordsSymlinksOut(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "credentials"), []byte(serverSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "vol")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"abs-file": filepath.Join(outside, "credentials"),
		"rel-file": "../outside/credentials",
		"abs-dir":  outside,
		"rel-dir":  "../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	store := memstore.New(testBucket)
	entries, raw, err := snapshotEntries(t, newStore(t, store, ""), store, src)
	if err != nil {
		t.Fatal(err)
	}
	if leaks(raw) {
		t.Fatal("a symlink out of the volume was followed")
	}
	for name, target := range links {
		if hdr := entries[name]; hdr == nil || hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != target {
			t.Errorf("%s = %+v, want a symlink to %s", name, hdr, target)
		}
	}
}

// TestSnapshotUnderASwapLoop runs the same race without a hook: a goroutine
// keeps renaming a symlink to the server's credentials over a file of the
// volume and back while snapshots are taken. No snapshot may hold them.
func TestSnapshotUnderASwapLoop(t *testing.T) {
	tmp := t.TempDir()
	secretPath := filepath.Join(tmp, "credentials")
	if err := os.WriteFile(secretPath, []byte(serverSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(tmp, "vol")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(src, "f")
	if err := os.WriteFile(target, []byte(harmless), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Go(func() {
		file, link := filepath.Join(src, ".file"), filepath.Join(src, ".link")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.Remove(file)
			_ = os.Remove(link)
			if i%2 == 0 {
				_ = os.Symlink(secretPath, link)
				_ = os.Rename(link, target)
			} else {
				_ = os.WriteFile(file, []byte(harmless), 0o644)
				_ = os.Rename(file, target)
			}
			swaps.Add(1)
		}
	})
	defer func() { close(stop); wg.Wait() }()

	store := memstore.New(testBucket)
	b := newStore(t, store, "")
	taken := 0
	for i := 0; i < 100; i++ {
		_, raw, err := snapshotEntries(t, b, store, src)
		if err != nil {
			// Giving up on an entry that keeps changing is allowed; leaking
			// is not.
			if !strings.Contains(err.Error(), "while it was being snapshotted") {
				t.Fatalf("snapshot %d: %v", i, err)
			}
			continue
		}
		taken++
		if leaks(raw) {
			t.Fatalf("snapshot %d (after %d swaps) holds the server's credentials", i, swaps.Load())
		}
	}
	t.Logf("%d snapshots taken during %d swaps", taken, swaps.Load())
}

// TestRestoreDropsUnsafeModeBits: setuid, setgid and sticky bits are in the
// snapshot (it is a faithful copy) but never on a restored volume.
func TestRestoreDropsUnsafeModeBits(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src, fs.ModeDir|fs.ModeSticky|0o777, []struct {
		name string
		file
	}{
		{"setuid-tool", file{mode: fs.ModeSetuid | 0o755, content: []byte("\x7fELF")}},
		{"setgid-tool", file{mode: fs.ModeSetgid | 0o755, content: []byte("\x7fELF")}},
		{"setgid/", file{mode: fs.ModeDir | fs.ModeSetgid | 0o775}},
		{"shared/", file{mode: fs.ModeDir | fs.ModeSticky | 0o777}},
	})
	store := memstore.New(testBucket)
	b := newStore(t, store, filepath.Join(tmp, "vols"))
	entries, _, err := snapshotEntries(t, b, store, src)
	if err != nil {
		t.Fatal(err)
	}
	if m := entries["setuid-tool"].FileInfo().Mode(); m&fs.ModeSetuid == 0 {
		t.Errorf("the snapshot lost the setuid bit (%v): it should record the volume as it is", m)
	}
	ids := store.Keys(testBucket, "snapshots/")
	id := strings.TrimSuffix(strings.TrimPrefix(ids[len(ids)-1], "snapshots/"), ".tar.gz")
	vol, err := b.CreateVolumeFromSnapshot(context.Background(), id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]fs.FileMode{".": fs.ModeDir | 0o777, "setuid-tool": 0o755, "setgid-tool": 0o755, "setgid": fs.ModeDir | 0o775, "shared": fs.ModeDir | 0o777}
	for name, mode := range want {
		info, err := os.Lstat(filepath.Join(vol, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s restored with mode %v, want %v", name, info.Mode(), mode)
		}
	}
}

// putSnapshot stores a hand-made snapshot (archive, and metadata when meta
// is not empty) and returns its ID.
func putSnapshot(t *testing.T, store *memstore.Store, b *BlockStore, archive []byte, meta string) string {
	t.Helper()
	id := "local-0123456789abcdef0123456789abcdef"
	ctx := context.Background()
	if err := store.PutObject(ctx, testBucket, b.archiveKey(id), bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	if meta != "" {
		if err := store.PutObject(ctx, testBucket, b.metadataKey(id), strings.NewReader(meta)); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func ownedArchive(t *testing.T, entries []tarEntry, uid, gid int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Uid: uid, Gid: gid, Format: tar.FormatPAX}
		if e.typ == tar.TypeDir {
			hdr.Mode, hdr.Size = 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRestoreOwnersAreTheRecordedOnes: a restore gives entries the owners
// the volume had, and refuses an archive that names any other.
func TestRestoreOwnersAreTheRecordedOnes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("owners are restored only when the server runs as root")
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src, fs.ModeDir|0o755, []struct {
		name string
		file
	}{
		{"app/", file{mode: fs.ModeDir | 0o755}},
		{"app/data", file{mode: 0o640, content: []byte("data")}},
		{"other", file{mode: 0o644, content: []byte("other")}},
	})
	for name, owner := range map[string][2]int{".": {1000, 1000}, "app": {1234, 5678}, "app/data": {1234, 5678}, "other": {0, 0}} {
		if err := os.Lchown(filepath.Join(src, name), owner[0], owner[1]); err != nil {
			t.Fatal(err)
		}
	}
	store := memstore.New(testBucket)
	b := newStore(t, store, filepath.Join(tmp, "vols"))
	ctx := context.Background()
	id, err := b.CreateSnapshot(ctx, src, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := store.GetObject(ctx, testBucket, b.metadataKey(id))
	meta, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(meta), `"uid": 1234`) || !strings.Contains(string(meta), `"gid": 5678`) {
		t.Errorf("the metadata does not record the owners: %s", meta)
	}
	vol, err := b.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string][2]int{".": {1000, 1000}, "app": {1234, 5678}, "app/data": {1234, 5678}, "other": {0, 0}} {
		info, err := os.Lstat(filepath.Join(vol, name))
		if err != nil {
			t.Fatal(err)
		}
		if uid, gid := ownerOf(info); uid != owner[0] || gid != owner[1] {
			t.Errorf("%s restored as %d:%d, want %d:%d", name, uid, gid, owner[0], owner[1])
		}
	}

	// An altered archive: same recorded owners, but an entry of another.
	volumeRoot := filepath.Join(tmp, "vols2")
	store2 := memstore.New(testBucket)
	b2 := newStore(t, store2, volumeRoot)
	altered := putSnapshot(t, store2, b2, ownedArchive(t, []tarEntry{{name: "./", typ: tar.TypeDir}, {name: "tool", typ: tar.TypeReg, body: "x"}}, 0, 42),
		`{"snapshotID":"x","owners":[{"uid":1234,"gid":5678}]}`)
	if vol, err := b2.CreateVolumeFromSnapshot(ctx, altered, "", "", nil); err == nil || !strings.Contains(err.Error(), "did not record") {
		t.Errorf("an archive with an unrecorded owner: %v, %v", vol, err)
	}
	if entries, _ := os.ReadDir(volumeRoot); len(entries) != 0 {
		t.Errorf("a refused restore left %d entries in volumeRoot", len(entries))
	}

	// No recorded owners (a snapshot of an older version): nothing is
	// chowned, everything belongs to the server's user.
	store3 := memstore.New(testBucket)
	b3 := newStore(t, store3, filepath.Join(tmp, "vols3"))
	old := putSnapshot(t, store3, b3, ownedArchive(t, []tarEntry{{name: "./", typ: tar.TypeDir}, {name: "f", typ: tar.TypeReg, body: "x"}}, 4242, 4242),
		`{"snapshotID":"x"}`)
	vol, err = b3.CreateVolumeFromSnapshot(ctx, old, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(filepath.Join(vol, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := ownerOf(info); uid != os.Geteuid() || gid != os.Getegid() {
		t.Errorf("without recorded owners, f was restored as %d:%d, want the server's %d:%d", uid, gid, os.Geteuid(), os.Getegid())
	}
}

func TestRestoreLimits(t *testing.T) {
	big := strings.Repeat("x", 4096)
	// Many empty files, each with a PAX header of 512 KiB: tiny once
	// compressed, huge once unpacked, and no file data at all.
	var paxBomb bytes.Buffer
	gz := gzip.NewWriter(&paxBomb)
	tw := tar.NewWriter(gz)
	for i := 0; i < 8; i++ {
		hdr := &tar.Header{Name: "f" + strings.Repeat("0", i), Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"comment": strings.Repeat("A", 512<<10)}}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()

	for _, tc := range []struct {
		name    string
		cfg     map[string]string
		archive []byte
		want    string
	}{
		{"one file too big", map[string]string{MaxRestoreFileBytesKey: "1Ki"},
			hostileArchive(t, []tarEntry{{name: "small", typ: tar.TypeReg, body: "x"}, {name: "big", typ: tar.TypeReg, body: big}}),
			"snapshot entry big is 4096 bytes, more than the 1Ki a restored file may have (maxRestoreFileBytes)"},
		{"files too big together", map[string]string{MaxRestoreBytesKey: "10Ki"},
			hostileArchive(t, []tarEntry{{name: "a", typ: tar.TypeReg, body: big}, {name: "b", typ: tar.TypeReg, body: big}, {name: "c", typ: tar.TypeReg, body: big}}),
			"more than 10Ki (maxRestoreBytes)"},
		{"headers too big", map[string]string{MaxRestoreBytesKey: "1Mi"}, paxBomb.Bytes(), "unpacks to more than 1Mi (maxRestoreBytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			volumeRoot := filepath.Join(tmp, "vols")
			cfg := map[string]string{VolumeRootKey: volumeRoot}
			for k, v := range tc.cfg {
				cfg[k] = v
			}
			store := memstore.New(testBucket)
			b, err := New(store, testBucket, "snapshots", cfg)
			if err != nil {
				t.Fatal(err)
			}
			id := putSnapshot(t, store, b, tc.archive, "")
			vol, err := b.CreateVolumeFromSnapshot(context.Background(), id, "", "", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore = %v, %v; want an error containing %q", vol, err, tc.want)
			}
			if entries, _ := os.ReadDir(volumeRoot); len(entries) != 0 {
				t.Errorf("a refused restore left %d entries in volumeRoot", len(entries))
			}
		})
	}

	// Within the limits, exactly at them.
	tmp := t.TempDir()
	store := memstore.New(testBucket)
	b, err := New(store, testBucket, "snapshots", map[string]string{VolumeRootKey: filepath.Join(tmp, "vols"), MaxRestoreFileBytesKey: "4Ki"})
	if err != nil {
		t.Fatal(err)
	}
	id := putSnapshot(t, store, b, hostileArchive(t, []tarEntry{{name: "a", typ: tar.TypeReg, body: big}}), "")
	if _, err := b.CreateVolumeFromSnapshot(context.Background(), id, "", "", nil); err != nil {
		t.Errorf("a file of exactly maxRestoreFileBytes: %v", err)
	}

	for _, bad := range []string{"0", "-1", "lots", "1.5.6Gi"} {
		_, err := New(store, testBucket, "", map[string]string{MaxRestoreBytesKey: bad})
		if err == nil || !strings.Contains(err.Error(), "not a positive size") {
			t.Errorf("maxRestoreBytes %q: %v", bad, err)
		}
	}
}

func TestBoundedReaderExactLimit(t *testing.T) {
	r := &boundedReader{r: strings.NewReader("12345"), left: 5, limit: 5}
	if got, err := io.ReadAll(r); err != nil || string(got) != "12345" {
		t.Errorf("exactly the limit: %q, %v", got, err)
	}
	r = &boundedReader{r: strings.NewReader("123456"), left: 5, limit: 5}
	if _, err := io.ReadAll(r); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("one byte over the limit: %v", err)
	}
}

func ownerOf(info fs.FileInfo) (uid, gid int) {
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
