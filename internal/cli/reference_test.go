package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spf13/cobra"
)

// docs/cli is what cobra generates from the command tree today: run
// `make docs` after changing a command's flags or help.
func TestCLIReferenceIsFresh(t *testing.T) {
	fresh := t.TempDir()
	if err := WriteReference(fresh); err != nil {
		t.Fatal(err)
	}
	checkedIn := filepath.Join("..", "..", "docs", "cli")
	want, _ := filepath.Glob(filepath.Join(fresh, "*.md"))
	have, _ := filepath.Glob(filepath.Join(checkedIn, "*.md"))
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		sort.Strings(out)
		return out
	}
	if w, h := names(want), names(have); !equalStrings(w, h) {
		t.Errorf("docs/cli has pages %v, the commands make %v: run make docs", h, w)
	}
	for _, p := range want {
		fresh, _ := os.ReadFile(p)
		old, err := os.ReadFile(filepath.Join(checkedIn, filepath.Base(p)))
		if err == nil && !bytes.Equal(fresh, old) {
			t.Errorf("docs/cli/%s is stale: run make docs", filepath.Base(p))
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every command's --help shows an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		if c.Example == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no Short description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCommand())
}
