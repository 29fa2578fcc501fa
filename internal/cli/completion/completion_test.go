package completion

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(args ...string) (string, error) {
	root := &cobra.Command{Use: "ark"}
	root.AddCommand(&cobra.Command{Use: "backup", Run: func(*cobra.Command, []string) {}}, NewCommand())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// Each shell gets its own script for the ark command.
func TestScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_ark",
		"zsh":        "#compdef ark",
		"fish":       "complete -c ark",
		"powershell": "Register-ArgumentCompleter",
	} {
		out, err := run("completion", shell)
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		if !strings.Contains(out, marker) {
			t.Errorf("ark completion %s lacks %q", shell, marker)
		}
	}
}

func TestUnknownShell(t *testing.T) {
	if _, err := run("completion", "tcsh"); err == nil || !strings.Contains(err.Error(), `invalid argument "tcsh"`) {
		t.Errorf("ark completion tcsh: %v", err)
	}
	if _, err := run("completion"); err == nil {
		t.Error("ark completion without a shell succeeded")
	}
}
