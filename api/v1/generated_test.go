package v1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/heptio/ark/internal/testproc"
)

// TestGeneratedFilesAreFresh regenerates the deepcopy code, the CRDs and
// examples/common/00-prereqs.yaml and fails when they differ from what is checked in: run
// `make generate` after changing api/v1.
func TestGeneratedFilesAreFresh(t *testing.T) {
	controllerGen := testproc.Require(t, testproc.ControllerGen)
	out := t.TempDir()
	cmd := exec.Command("hack/generate.sh", out)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "ARK_CONTROLLER_GEN="+controllerGen)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh: %v\n%s", err, b)
	}
	files := []string{"api/v1/zz_generated.deepcopy.go", "examples/common/00-prereqs.yaml"}
	crds, _ := filepath.Glob(filepath.Join(out, "config", "crd", "*.yaml"))
	for _, c := range crds {
		files = append(files, filepath.Join("config", "crd", filepath.Base(c)))
	}
	checkedIn, _ := filepath.Glob(filepath.Join("..", "..", "config", "crd", "ark.heptio.com_*.yaml"))
	if len(checkedIn) != len(crds) {
		t.Errorf("config/crd has %d CRDs, controller-gen makes %d: run make generate", len(checkedIn), len(crds))
	}
	for _, f := range files {
		fresh, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatalf("%s is missing: run make generate", f)
		}
		if !bytes.Equal(fresh, have) {
			t.Errorf("%s is stale: run make generate", f)
		}
	}
}
