// Package completion is `ark completion`: cobra's shell completion scripts,
// with the help text saying how to load them.
package completion

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewCommand is `ark completion bash|zsh|fish|powershell`.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script of a shell. Loaded into the shell, it completes
ark's commands, flags and arguments on TAB.

bash (needs the bash-completion package):
  source <(ark completion bash)                            # this shell
  ark completion bash > /etc/bash_completion.d/ark         # every shell

zsh:
  source <(ark completion zsh)                             # this shell
  ark completion zsh > "${fpath[1]}/_ark"                  # every shell

fish:
  ark completion fish | source                            # this shell
  ark completion fish > ~/.config/fish/completions/ark.fish

PowerShell:
  ark completion powershell | Out-String | Invoke-Expression`,
		Example: `  source <(ark completion bash)
  ark completion zsh > "${fpath[1]}/_ark"
  ark completion fish > ~/.config/fish/completions/ark.fish`,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell"},
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, root := cmd.OutOrStdout(), cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return fmt.Errorf("unknown shell %q: use bash, zsh, fish or powershell", args[0])
		},
	}
}
