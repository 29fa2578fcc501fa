package pb_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/heptio/ark/internal/testproc"
)

// TestGeneratedFilesAreFresh regenerates the protocol's Go code from
// pkg/plugin/proto and fails when it differs from what is checked in: run
// hack/genproto.sh after changing a .proto file.
func TestGeneratedFilesAreFresh(t *testing.T) {
	testproc.Require(t, testproc.ProtoGen)
	root := filepath.Join("..", "..", "..", "..")
	out := t.TempDir()
	cmd := exec.Command("hack/genproto.sh", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/genproto.sh: %v\n%s", err, b)
	}
	fresh, _ := filepath.Glob(filepath.Join(out, "pkg", "plugin", "internal", "pb", "*.go"))
	have, _ := filepath.Glob("*.pb.go")
	if len(fresh) == 0 || len(fresh) != len(have) {
		t.Fatalf("hack/genproto.sh made %d files, %d are checked in: run hack/genproto.sh", len(fresh), len(have))
	}
	for _, f := range fresh {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil {
			t.Fatalf("%s is missing: run hack/genproto.sh", filepath.Base(f))
		}
		if !bytes.Equal(want, got) {
			t.Errorf("%s is stale: run hack/genproto.sh", filepath.Base(f))
		}
	}
}
