package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIKnowsNothingOfTheServer holds DESIGN.md's rule in the import graph:
// the CLI only creates resources and prints them, so no CLI package but the
// `ark server` command (internal/cli/serve) may depend on the controllers or
// the server's wiring.
func TestCLIKnowsNothingOfTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/heptio/ark/internal/cli/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"github.com/heptio/ark/internal/controller", "github.com/heptio/ark/internal/server"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	checked := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, deps := fields[0], fields[1:]
		if pkg == "github.com/heptio/ark/internal/cli" || strings.HasPrefix(pkg, "github.com/heptio/ark/internal/cli/serve") {
			continue // the root command wires `ark server`, which is the server
		}
		checked++
		for _, d := range deps {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s: the CLI must not import the server's packages (move what it needs into a package both share)", pkg, d)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d CLI packages were checked: go list output changed?\n%s", checked, out)
	}
}

// TestOnlyTheBucketKnowsItsLayout: the names of a backup's files in the
// bucket are built only in internal/backupstore, so another layout is one
// change there.
func TestOnlyTheBucketKnowsItsLayout(t *testing.T) {
	root := filepath.Join("..", "..")
	layoutMarks := []string{`"ark-backup.json"`, `"-logs.gz"`, `"-results.gz"`, `"-plan.gz"`, `".tar.gz"`}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			// The bucket layout's own package; local snapshots have a layout
			// of their own in the bucket.
			if rel == filepath.Join("internal", "backupstore") || rel == filepath.Join("internal", "snapshot", "local") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range layoutMarks {
			if bytes.Contains(data, []byte(m)) {
				t.Errorf("%s spells the bucket layout (%s): ask internal/backupstore instead", rel, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
