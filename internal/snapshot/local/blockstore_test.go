package local

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/snapshot"
)

const testBucket = "ark-backups"

type file struct {
	mode    fs.FileMode
	content []byte
	link    string // symlink target when mode has ModeSymlink
}

// buildTree writes files (created in order; directories end in "/") under
// dir, then gives every file and directory a fixed modification time.
func buildTree(t *testing.T, dir string, rootMode fs.FileMode, files []struct {
	name string
	file
}) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	mtime := time.Date(2017, 7, 31, 22, 24, 41, 0, time.UTC)
	for i, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(f.name, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		when := mtime.Add(time.Duration(i) * time.Hour)
		switch {
		case strings.HasSuffix(f.name, "/"):
			if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				t.Fatal(err)
			}
			dirs = append(dirs, p)
		case f.mode&fs.ModeSymlink != 0:
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		default:
			if err := os.WriteFile(p, f.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, f.mode); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	// Directory modes and times last, deepest first, so writing children
	// neither is blocked by nor changes them.
	for i := len(dirs) - 1; i >= 0; i-- {
		for _, f := range files {
			if filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(f.name, "/"))) == dirs[i] {
				if err := os.Chmod(dirs[i], f.mode); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.Chtimes(dirs[i], mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, rootMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

type entry struct {
	mode    fs.FileMode
	mtime   time.Time
	content []byte
	link    string
	uid     int
}

// readTree describes every entry under dir, keyed by slash path ("." is dir).
func readTree(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := entry{mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.link, err = os.Readlink(p)
		case info.Mode().IsRegular():
			e.mtime = info.ModTime()
			e.content, err = os.ReadFile(p)
		default:
			e.mtime = info.ModTime()
		}
		out[filepath.ToSlash(rel)] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleTree(t *testing.T) []struct {
	name string
	file
} {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	binary := append(randomBytes(t, 1<<20+123), every...)
	long := strings.Repeat("long-name-", 15) + ".txt"
	return []struct {
		name string
		file
	}{
		{"bin/", file{mode: fs.ModeDir | 0o755}},
		{"bin/run.sh", file{mode: 0o755, content: []byte("#!/bin/sh\necho hello\n")}},
		{"data/", file{mode: fs.ModeDir | 0o750}},
		{"data/blob.bin", file{mode: 0o640, content: binary}},
		{"data/secret", file{mode: 0o600, content: []byte("password=hunter2\n")}},
		{"data/readonly.txt", file{mode: 0o444, content: []byte("do not touch\n")}},
		{"empty-dir/", file{mode: fs.ModeDir | 0o711}},
		{"ro-dir/", file{mode: fs.ModeDir | 0o555}},
		{"ro-dir/inside.txt", file{mode: 0o644, content: []byte("inside a read-only directory\n")}},
		{"sticky/", file{mode: fs.ModeDir | fs.ModeSticky | 0o777}},
		{"setgid/", file{mode: fs.ModeDir | fs.ModeSetgid | 0o755}},
		{"setuid-tool", file{mode: fs.ModeSetuid | 0o755, content: []byte("\x7fELF")}},
		{"deep/", file{mode: fs.ModeDir | 0o755}},
		{"deep/a/", file{mode: fs.ModeDir | 0o755}},
		{"deep/a/b/", file{mode: fs.ModeDir | 0o700}},
		{"deep/a/b/c.txt", file{mode: 0o644, content: []byte("deep\n")}},
		{"empty-file", file{mode: 0o644, content: nil}},
		{"name with spaces & ünïcode.txt", file{mode: 0o644, content: []byte("ü\n")}},
		{long, file{mode: 0o644, content: []byte("a name longer than 100 bytes needs PAX\n")}},
		{"link-to-blob", file{mode: fs.ModeSymlink, link: "data/blob.bin"}},
		{"deep/a/up-link", file{mode: fs.ModeSymlink, link: "../../bin/run.sh"}},
		{"dangling", file{mode: fs.ModeSymlink, link: "not-there-yet"}},
	}
}

func newStore(t *testing.T, store *memstore.Store, volumeRoot string) *BlockStore {
	t.Helper()
	cfg := map[string]string{}
	if volumeRoot != "" {
		cfg[VolumeRootKey] = volumeRoot
	}
	b, err := New(store, testBucket, "snapshots", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSnapshotDeleteRestoreByteForByte(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "pv-data")
	buildTree(t, src, fs.ModeDir|0o751, sampleTree(t))
	want := readTree(t, src)
	store := memstore.New(testBucket)
	volumeRoot := filepath.Join(tmp, "restored-volumes")
	b := newStore(t, store, volumeRoot)
	ctx := context.Background()

	if typ, iops, err := b.GetVolumeInfo(ctx, src, ""); err != nil || typ != "" || iops != nil {
		t.Fatalf("GetVolumeInfo = %q, %v, %v", typ, iops, err)
	}
	tags := map[string]string{"ark.heptio.com/backup": "nginx-backup"}
	id, err := b.CreateSnapshot(ctx, src, "", tags)
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if !snapshotIDPattern.MatchString(id) {
		t.Fatalf("snapshot ID %q", id)
	}
	keys, _ := store.ListObjects(ctx, testBucket, "")
	if wantKeys := []string{"snapshots/" + id + ".json", "snapshots/" + id + ".tar.gz"}; !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("objects %v, want %v", keys, wantKeys)
	}
	if store.Seekable()[0] {
		t.Error("the archive was handed to PutObject as a seekable body; it must be streamed")
	}
	rc, _ := store.GetObject(ctx, testBucket, "snapshots/"+id+".json")
	var meta metadata
	if err := json.NewDecoder(rc).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if meta.SnapshotID != id || meta.SourcePath != src || !reflect.DeepEqual(meta.Tags, tags) {
		t.Errorf("metadata %+v", meta)
	}

	// Disaster: the volume is gone.
	if err := removeTree(src); err != nil {
		t.Fatal(err)
	}

	volID, err := b.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
	if err != nil {
		t.Fatalf("CreateVolumeFromSnapshot: %v", err)
	}
	if filepath.Dir(volID) != volumeRoot || volID == src {
		t.Fatalf("restored to %s, want a new directory under %s", volID, volumeRoot)
	}
	ready, err := b.IsVolumeReady(ctx, volID, "")
	if err != nil || !ready {
		t.Fatalf("IsVolumeReady = %v, %v", ready, err)
	}
	got := readTree(t, volID)
	if len(got) != len(want) {
		t.Errorf("restored %d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s missing after restore", name)
		case g.mode != w.mode&^unsafeModeBits:
			// setuid, setgid and sticky bits are never restored
			// (TestRestoreDropsUnsafeModeBits).
			t.Errorf("%s: mode %v, want %v", name, g.mode, w.mode&^unsafeModeBits)
		case !bytes.Equal(g.content, w.content):
			t.Errorf("%s: content differs (%d bytes, want %d)", name, len(g.content), len(w.content))
		case g.link != w.link:
			t.Errorf("%s: symlink -> %q, want %q", name, g.link, w.link)
		case !g.mtime.Equal(w.mtime):
			t.Errorf("%s: mtime %v, want %v", name, g.mtime, w.mtime)
		}
	}
	// Nothing but the restored volume is left in volumeRoot.
	if entries, _ := os.ReadDir(volumeRoot); len(entries) != 1 {
		t.Errorf("volumeRoot holds %d entries, want only the restored volume", len(entries))
	}

	if err := b.DeleteSnapshot(ctx, id); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if keys, _ := store.ListObjects(ctx, testBucket, ""); len(keys) != 0 {
		t.Errorf("objects left after DeleteSnapshot: %v", keys)
	}
	if err := b.DeleteSnapshot(ctx, id); err != nil {
		t.Errorf("second DeleteSnapshot: %v", err)
	}
	if _, err := b.CreateVolumeFromSnapshot(ctx, id, "", "", nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("restore of a deleted snapshot: %v, want ErrNotFound", err)
	}
}

func TestTwoRestoresGetTwoDirectories(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src, fs.ModeDir|0o755, sampleTree(t)[:2])
	store := memstore.New(testBucket)
	b := newStore(t, store, filepath.Join(tmp, "vols"))
	ctx := context.Background()
	id, err := b.CreateSnapshot(ctx, src, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Errorf("two restores share %s", first)
	}
}

func TestRestoreNeedsVolumeRoot(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	buildTree(t, src, fs.ModeDir|0o755, nil)
	b := newStore(t, memstore.New(testBucket), "")
	id, err := b.CreateSnapshot(context.Background(), src, "", nil)
	if err != nil {
		t.Fatalf("backups work without volumeRoot: %v", err)
	}
	_, err = b.CreateVolumeFromSnapshot(context.Background(), id, "", "", nil)
	if !errors.Is(err, snapshot.ErrInvalidConfig) || !strings.Contains(err.Error(), "volumeRoot") {
		t.Fatalf("restore without volumeRoot: %v", err)
	}
}

func TestSnapshotErrors(t *testing.T) {
	tmp := t.TempDir()
	store := memstore.New(testBucket)
	b := newStore(t, store, filepath.Join(tmp, "vols"))
	ctx := context.Background()

	if _, err := b.CreateSnapshot(ctx, filepath.Join(tmp, "missing"), "", nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("snapshot of a missing directory: %v", err)
	}
	if _, err := b.CreateSnapshot(ctx, "relative/path", "", nil); err == nil {
		t.Error("snapshot of a relative path succeeded")
	}
	if ready, err := b.IsVolumeReady(ctx, filepath.Join(tmp, "missing"), ""); err != nil || ready {
		t.Errorf("IsVolumeReady of a missing directory = %v, %v", ready, err)
	}
	for _, id := range []string{"snap-123", "local-../../etc", "local-ABC"} {
		if err := b.DeleteSnapshot(ctx, id); err == nil {
			t.Errorf("DeleteSnapshot(%q) accepted a foreign ID", id)
		}
	}

	// A failed upload leaves nothing behind.
	src := filepath.Join(tmp, "src")
	buildTree(t, src, fs.ModeDir|0o755, sampleTree(t)[:2])
	for _, suffix := range []string{".tar.gz", ".json"} {
		store.FailPut = func(_, key string) error {
			if strings.HasSuffix(key, suffix) {
				return errors.New("injected upload failure")
			}
			return nil
		}
		bs, _ := New(store, testBucket, "snapshots/", nil)
		if _, err := bs.CreateSnapshot(ctx, src, "", nil); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Errorf("upload failure of %s: %v", suffix, err)
		}
		store.FailPut = nil
		if keys, _ := store.ListObjects(ctx, testBucket, ""); len(keys) != 0 {
			t.Errorf("objects left after a failed %s upload: %v", suffix, keys)
		}
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func hostileArchive(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)),
			ModTime: time.Unix(1500000000, 0), Format: tar.FormatPAX}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
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

func TestHostileArchivesAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		raw     []byte
		want    string
	}{
		{"dot-dot entry", []tarEntry{{name: "../../outside/evil", typ: tar.TypeReg, body: "x"}}, nil, `".."`},
		{"dot-dot in the middle", []tarEntry{{name: "a/../../../outside/evil", typ: tar.TypeReg, body: "x"}}, nil, `".."`},
		{"absolute entry", []tarEntry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}, nil, "absolute path"},
		{"absolute symlink", []tarEntry{{name: "etc", link: "/etc", typ: tar.TypeSymlink}}, nil, "absolute path /etc"},
		{"symlink then write through it", []tarEntry{
			{name: "esc", link: "/tmp", typ: tar.TypeSymlink}, {name: "esc/pwned", typ: tar.TypeReg, body: "x"},
		}, nil, "escapes the volume"},
		{"relative symlink out", []tarEntry{{name: "d/out", link: "../../../outside", typ: tar.TypeSymlink}}, nil, "points outside the volume"},
		{"symlink chain out", []tarEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/s", link: "..", typ: tar.TypeSymlink},
			{name: "d/t", link: "s/../..", typ: tar.TypeSymlink},
		}, nil, "through other symlinks"},
		{"symlink loop", []tarEntry{
			{name: "a", link: "b/x", typ: tar.TypeSymlink}, {name: "b", link: "a/x", typ: tar.TypeSymlink},
		}, nil, "too many levels"},
		{"write through an inner symlink out", []tarEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/s", link: "..", typ: tar.TypeSymlink},
			{name: "d/s/s2", link: "..", typ: tar.TypeSymlink},
		}, nil, "through the symlink d/s"},
		{"hard link", []tarEntry{{name: "passwd", link: "/etc/passwd", typ: tar.TypeLink}}, nil, "never contain"},
		{"device", []tarEntry{{name: "sda", typ: tar.TypeBlock}}, nil, "never contain"},
		{"duplicate file", []tarEntry{{name: "f", typ: tar.TypeReg, body: "1"}, {name: "f", typ: tar.TypeReg, body: "2"}}, nil, "creating file f"},
		{"not gzip", nil, []byte("this is not a snapshot"), "not a gzip stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			outside := filepath.Join(tmp, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			volumeRoot := filepath.Join(tmp, "vols")
			store := memstore.New(testBucket)
			b := newStore(t, store, volumeRoot)
			id := "local-0123456789abcdef0123456789abcdef"
			raw := tc.raw
			if raw == nil {
				raw = hostileArchive(t, tc.entries)
			}
			if err := store.PutObject(context.Background(), testBucket, b.archiveKey(id), bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}

			vol, err := b.CreateVolumeFromSnapshot(context.Background(), id, "", "", nil)
			if err == nil {
				t.Fatalf("hostile archive restored to %s", vol)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("the archive wrote outside the volume: %v", entries)
			}
			if entries, _ := os.ReadDir(volumeRoot); len(entries) != 0 {
				t.Errorf("a failed restore left %d entries in volumeRoot", len(entries))
			}
		})
	}
}

func TestConfig(t *testing.T) {
	store := memstore.New(testBucket)
	for _, tc := range []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{"root": "/x"}, `"root"`},
		{map[string]string{VolumeRootKey: "relative"}, "absolute"},
	} {
		if _, err := New(store, testBucket, "", tc.cfg); !errors.Is(err, snapshot.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) = %v", tc.cfg, err)
		}
	}
	if _, err := New(nil, "", "", nil); !errors.Is(err, snapshot.ErrInvalidConfig) {
		t.Errorf("New without a store: %v", err)
	}
	b, err := New(store, testBucket, "snaps", nil)
	if err != nil || b.archiveKey("local-1") != "snaps/local-1.tar.gz" {
		t.Errorf("prefix without a slash: %v, %v", b, err)
	}
}

func BenchmarkSnapshotAndRestore(b *testing.B) {
	tmp := b.TempDir()
	src := filepath.Join(tmp, "src")
	const files, size = 16, 4 << 20
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < files; i++ {
		// Half random (incompressible), half zeros: a realistic mix for gzip.
		data := append(randomBytes(b, size/2), make([]byte, size/2)...)
		if err := os.WriteFile(filepath.Join(src, "f"+string(rune('a'+i))), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	store := memstore.New(testBucket)
	bs, err := New(store, testBucket, DefaultPrefix, map[string]string{VolumeRootKey: filepath.Join(tmp, "vols")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(files * size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id, err := bs.CreateSnapshot(ctx, src, "", nil)
		if err != nil {
			b.Fatal(err)
		}
		vol, err := bs.CreateVolumeFromSnapshot(ctx, id, "", "", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.RemoveAll(vol)
		_ = bs.DeleteSnapshot(ctx, id)
		b.StartTimer()
	}
}
