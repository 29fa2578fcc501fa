package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// addGroupExamples gives each command group that has no Example of its own
// the first example of each of its subcommands, so that `ark backup --help`
// or `ark get --help` shows how the commands under it are used. The noun
// commands' examples read `ark backup create`; under a verb they are shown
// as `ark create backup`.
func addGroupExamples(c *cobra.Command) {
	for _, sub := range c.Commands() {
		addGroupExamples(sub)
	}
	if c.Example != "" || !c.HasAvailableSubCommands() {
		return
	}
	var lines []string
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		line := firstExample(sub.Example)
		if line == "" {
			continue
		}
		if nounVerb := "ark " + sub.Name() + " " + c.Name(); line == nounVerb || strings.HasPrefix(line, nounVerb+" ") {
			line = "ark " + c.Name() + " " + sub.Name() + strings.TrimPrefix(line, nounVerb)
		}
		lines = append(lines, "  "+line)
	}
	c.Example = strings.Join(lines, "\n")
}

// firstExample is the first command line of an Example, without comments.
func firstExample(example string) string {
	for _, line := range strings.Split(example, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "ark ") {
			return line
		}
	}
	return ""
}
