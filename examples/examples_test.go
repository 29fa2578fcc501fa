package examples

import (
	"io/fs"
	"strings"
	"testing"
)

// Every placeholder in the examples has a sample value, so that tests which
// fill them in apply every file with nothing left to replace.
func TestEveryPlaceholderHasASampleValue(t *testing.T) {
	n := 0
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, err := FS.ReadFile(path)
		if err != nil {
			return err
		}
		filled := Fill(data, Placeholders)
		if HasPlaceholder(filled) {
			t.Errorf("%s keeps a placeholder without a sample value: %s", path, PlaceholderPattern.Find(filled))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d files embedded", n)
	}
}

// The seeds' instructions name these files and placeholders.
func TestSeedFilesAndPlaceholders(t *testing.T) {
	for path, placeholders := range map[string][]string{
		"common/00-prereqs.yaml":         nil,
		"common/10-deployment.yaml":      {},
		"aws/00-ark-config.yaml":         {"<YOUR_BUCKET>", "<YOUR_REGION>", "<YOUR_AVAILABILITY_ZONE>"},
		"gcp/00-ark-config.yaml":         {"<YOUR_BUCKET>", "<YOUR_PROJECT>", "<YOUR_ZONE>"},
		"azure/00-ark-deployment.yaml":   {},
		"azure/10-ark-config.yaml":       {"<YOUR_BUCKET>", "<YOUR_LOCATION>", "<YOUR_TIMEOUT>"},
		"minio/00-minio-deployment.yaml": {},
		"minio/10-ark-config.yaml":       {},
		"nginx-app/base.yaml":            {},
		"nginx-app/with-pv.yaml":         {"<YOUR_STORAGE_CLASS_NAME>"},
	} {
		data, err := FS.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for _, p := range placeholders {
			if !strings.Contains(string(data), p) {
				t.Errorf("%s lacks the placeholder %s", path, p)
			}
		}
	}
}
