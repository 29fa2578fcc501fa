// Package examples embeds the manifests of this directory, the ones the docs
// tell users to `kubectl apply`, so that `ark install` renders exactly these
// files (internal/cli/install) and tests can apply them as they are.
package examples

import (
	"bytes"
	"embed"
	"regexp"
)

// FS holds every example manifest, by its path under examples/.
//
//go:embed common/*.yaml aws/*.yaml gcp/*.yaml azure/*.yaml minio/*.yaml filesystem/*.yaml nginx-app/*.yaml
var FS embed.FS

// Placeholders are the values the docs tell users to replace, each with a
// sample value that tests fill in.
var Placeholders = map[string]string{
	"<YOUR_BUCKET>":             "ark-backups",
	"<YOUR_REGION>":             "us-east-1",
	"<YOUR_AVAILABILITY_ZONE>":  "us-east-1a",
	"<YOUR_PROJECT>":            "my-project",
	"<YOUR_ZONE>":               "us-central1-a",
	"<YOUR_LOCATION>":           "eastus",
	"<YOUR_TIMEOUT>":            "2m",
	"<YOUR_STORAGE_CLASS_NAME>": "standard",
}

// PlaceholderPattern matches a placeholder such as <YOUR_BUCKET>.
var PlaceholderPattern = regexp.MustCompile(`<YOUR_[A-Z_]+>`)

// Fill replaces the placeholders of data by values.
func Fill(data []byte, values map[string]string) []byte {
	return PlaceholderPattern.ReplaceAllFunc(data, func(p []byte) []byte {
		if v, ok := values[string(p)]; ok {
			return []byte(v)
		}
		return p
	})
}

// HasPlaceholder reports whether data still holds a placeholder.
func HasPlaceholder(data []byte) bool {
	return PlaceholderPattern.Match(data) || bytes.Contains(data, []byte("<YOUR_"))
}
