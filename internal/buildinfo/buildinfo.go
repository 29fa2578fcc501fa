// Package buildinfo holds the version and commit the binary was built from,
// set with -ldflags "-X github.com/heptio/ark/internal/buildinfo.Version=...".
package buildinfo

import "runtime"

var (
	// Version is the release, or "dev" for a local build.
	Version = "dev"
	// GitCommit is the commit the binary was built from.
	GitCommit = "unknown"
)

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
