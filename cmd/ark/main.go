// Command ark is the Ark CLI and, as `ark server`, the Ark server.
package main

import (
	"fmt"
	"os"

	"github.com/heptio/ark/internal/cli"
)

func main() {
	if err := cli.NewRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "An error occurred:", err)
		os.Exit(1)
	}
}
