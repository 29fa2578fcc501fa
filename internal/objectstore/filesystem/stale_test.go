package filesystem

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heptio/ark/internal/tempfiles"
)

// A crash in the middle of PutObject leaves its temporary file; the next
// server removes it, but never the file of an upload still running.
func TestRemoveStaleUploads(t *testing.T) {
	if !tempfiles.Supported() {
		t.Skip("no file locks here")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "ark", "b1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := New(map[string]string{ConfigPath: root})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	file := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crashed := file(tempPrefix+"crashed", old)
	fresh := file(tempPrefix+"fresh", time.Now())
	running := file(tempPrefix+"running", old)
	object := file("b1.tar.gz", old)
	r, err := os.OpenRoot(filepath.Join(root, "ark"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	held := holdUpload(r, "b1/"+tempPrefix+"running")
	if held == nil {
		t.Fatal("could not hold the running upload's file")
	}
	defer held.Release()

	removed, err := s.RemoveStaleUploads(context.Background(), "ark")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != "b1/"+tempPrefix+"crashed" {
		t.Errorf("removed %v, want only the crashed upload", removed)
	}
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Errorf("the crashed upload's file is still there")
	}
	for _, p := range []string{fresh, running, object} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
}
