package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/heptio/ark/internal/objectstore"
)

func TestValidateKey(t *testing.T) {
	for _, ok := range []string{"b1/ark-backup.json", "backups/b1/b1.tar.gz", "top", "a..b/c", ".hidden/x", "with space/é"} {
		if err := ValidateKey(ok); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", ok, err)
		}
	}
	for key, want := range map[string]string{
		"":                      "empty",
		"/etc/passwd":           "absolute",
		"../outside":            `contains ".."`,
		"b1/../../outside":      `contains ".."`,
		"b1/./x":                `contains "."`,
		"b1//x":                 "empty path segment",
		"b1/":                   "empty path segment",
		"b1/.ark-upload-0123/x": "reserved",
		"nul\x00byte":           "NUL",
	} {
		err := ValidateKey(key)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateKey(%q) = %v, want an error containing %q", key, err, want)
		}
	}
}

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "ark"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(map[string]string{"path": root})
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestNewRejectsBadConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{}, `"path" is required`},
		{map[string]string{"path": missing}, "mkdir -p " + missing},
		{map[string]string{"path": file}, "not a directory"},
		{map[string]string{"path": t.TempDir(), "bucket": "x"}, `unknown config key "bucket"`},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestMissingBucketSaysHowToCreateIt(t *testing.T) {
	s, root := newStore(t)
	_, err := s.ListObjects(context.Background(), "backups", "")
	if !errors.Is(err, objectstore.ErrBucketNotFound) {
		t.Fatalf("ListObjects(missing bucket) = %v, want ErrBucketNotFound", err)
	}
	if want := "mkdir -p " + filepath.Join(root, "backups"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain the fix %q", err, want)
	}
	for _, bad := range []string{"..", "a/b", ""} {
		if err := s.PutObject(context.Background(), bad, "k", strings.NewReader("x")); err == nil {
			t.Errorf("PutObject into bucket %q succeeded", bad)
		}
	}
}

// TestKeysCannotEscapeThroughSymlinks plants a symlink to a directory
// outside the bucket: os.Root must refuse to follow it.
func TestKeysCannotEscapeThroughSymlinks(t *testing.T) {
	s, root := newStore(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "ark", "link")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.PutObject(ctx, "ark", "link/planted", strings.NewReader("x")); err == nil {
		t.Error("PutObject through a symlink out of the bucket succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file appeared outside the bucket: %v", err)
	}
	if _, err := s.GetObject(ctx, "ark", "link/secret"); err == nil {
		t.Error("GetObject through a symlink out of the bucket succeeded")
	}
	_ = s.DeleteObject(ctx, "ark", "link/secret")
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("DeleteObject through a symlink removed a file outside the bucket: %v", err)
	}
	keys, err := s.ListObjects(ctx, "ark", "")
	if err != nil || len(keys) != 0 {
		t.Errorf("ListObjects = %q, %v; want nothing (symlinks are not objects)", keys, err)
	}
}

// TestOverwriteIsAtomic reads the object while a new version is half
// written: the reader sees the old version whole, and a failed write leaves
// it in place with no temporary file behind.
func TestOverwriteIsAtomic(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	if err := s.PutObject(ctx, "ark", "b1/b1.tar.gz", strings.NewReader("old version")); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.PutObject(ctx, "ark", "b1/b1.tar.gz", pr) }()
	if _, err := pw.Write([]byte("half of the new ver")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "b1/b1.tar.gz"); got != "old version" {
		t.Fatalf("during the overwrite GetObject = %q, want the old version", got)
	}
	pw.CloseWithError(errors.New("backup failed"))
	if err := <-done; err == nil {
		t.Fatal("PutObject succeeded although its body failed")
	}
	if got := read(t, s, "b1/b1.tar.gz"); got != "old version" {
		t.Fatalf("after a failed overwrite GetObject = %q, want the old version", got)
	}
	entries, err := os.ReadDir(filepath.Join(root, "ark", "b1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("bucket dir holds %d entries after a failed write, want only the object: %v", len(entries), entries)
	}
}

func read(t *testing.T, s *Store, key string) string {
	t.Helper()
	rc, err := s.GetObject(context.Background(), "ark", key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestListingHidesUploadsInProgress(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(root, "ark", "b1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ark", "b1", tempPrefix+"abc"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListObjects(ctx, "ark", "")
	if err != nil || len(keys) != 0 {
		t.Errorf("ListObjects = %q, %v; want no keys (only an upload in progress)", keys, err)
	}
	prefixes, err := s.ListCommonPrefixes(ctx, "ark", "", "/")
	if err != nil || len(prefixes) != 0 {
		t.Errorf("ListCommonPrefixes = %q, %v; want none", prefixes, err)
	}
}

func TestSignedURLIsReadableFileURL(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	if err := s.PutObject(ctx, "ark", "b1/b1-logs.gz", strings.NewReader("logs")); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateSignedURL(ctx, "ark", "b1/b1-logs.gz", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "file://" + filepath.Join(root, "ark", "b1", "b1-logs.gz"); u != want {
		t.Errorf("CreateSignedURL = %s, want %s", u, want)
	}
	tr := &http.Transport{}
	tr.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	resp, err := (&http.Client{Transport: tr}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "logs" {
		t.Errorf("GET %s = %d %q", u, resp.StatusCode, b)
	}
	if _, err := s.CreateSignedURL(ctx, "ark", "b1/missing", 0); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("CreateSignedURL(missing) = %v, want ErrNotFound", err)
	}
}

func TestPermissionErrorsMapToAccessDenied(t *testing.T) {
	s, root := newStore(t)
	err := s.mapError("put", "ark", "b1/x", fmt.Errorf("open: %w", fs.ErrPermission))
	if !errors.Is(err, objectstore.ErrAccessDenied) || !strings.Contains(err.Error(), root) {
		t.Errorf("mapError(EACCES) = %v, want ErrAccessDenied naming %s", err, root)
	}
}

// TestWhatTheStoreCreatesIsPrivate: archives hold every Secret of a
// backup, so the files and directories the store creates, and the
// temporary file of an upload in progress, are readable by the server's
// user only, whatever the umask lets through.
func TestWhatTheStoreCreatesIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	s, root := newStore(t)
	ctx := context.Background()

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.PutObject(ctx, "ark", "b1/sub/b1.tar.gz", pr) }()
	if _, err := pw.Write([]byte("secrets")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "ark", "b1", "sub"))
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), tempPrefix) {
		t.Fatalf("upload in progress: entries %v, %v", entries, err)
	}
	checkMode(t, filepath.Join(root, "ark", "b1", "sub", entries[0].Name()), 0o600)
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkMode(t, filepath.Join(root, "ark", "b1", "sub", "b1.tar.gz"), 0o600)
	checkMode(t, filepath.Join(root, "ark", "b1", "sub"), fs.ModeDir|0o700)
	checkMode(t, filepath.Join(root, "ark", "b1"), fs.ModeDir|0o700)

	// An overwrite too.
	if err := s.PutObject(ctx, "ark", "b1/sub/b1.tar.gz", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	checkMode(t, filepath.Join(root, "ark", "b1", "sub", "b1.tar.gz"), 0o600)
}

func checkMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != want {
		t.Errorf("%s has mode %v, want %v", p, info.Mode(), want)
	}
}
