// Command gendocs writes the CLI reference (docs/cli/*.md) from the cobra
// command tree: go run ./hack/gendocs [DIR], or make docs.
package main

import (
	"fmt"
	"os"

	"github.com/heptio/ark/internal/cli"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := cli.WriteReference(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
