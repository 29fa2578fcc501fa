package providers

import (
	"fmt"
	"strings"
	"testing"
)

func TestNewUnknownProviderListsValidNames(t *testing.T) {
	_, err := New("s3", nil)
	if err == nil {
		t.Fatal("New(\"s3\") succeeded, want an error")
	}
	for _, want := range append([]string{`"s3"`}, Names()...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewChoosesProvider(t *testing.T) {
	dir := t.TempDir()
	store, err := New("filesystem", map[string]string{"path": dir})
	if err != nil {
		t.Fatalf("New(filesystem): %v", err)
	}
	if got := fmt.Sprintf("%T", store); got != "*filesystem.Store" {
		t.Errorf("New(filesystem) built %s", got)
	}
	// Each provider's own validation runs: aws without region or s3Url.
	if _, err := New("aws", map[string]string{}); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("New(aws, no region) = %v, want an error about region", err)
	}
}
