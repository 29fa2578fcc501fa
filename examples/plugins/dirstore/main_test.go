package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/heptio/ark/pkg/plugin"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

// TestThroughTheProtocol runs the built plugin as the Ark server does and
// holds its store to the ObjectStore contract.
func TestThroughTheProtocol(t *testing.T) {
	client := plugintest.Start(t, plugintest.Build(t, ".", "."), plugin.HostOptions{})
	ctx := context.Background()
	if _, err := client.ObjectStore(ctx, "example.com/dirstore", map[string]string{"root": "relative"}); !errors.Is(err, plugin.ErrInvalidConfig) {
		t.Errorf("a relative root: %v", err)
	}
	root := t.TempDir()
	store, err := client.ObjectStore(ctx, "example.com/dirstore", map[string]string{"root": root})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.ListObjects(ctx, "backups", ""); !errors.Is(err, plugin.ErrBucketNotFound) {
		t.Errorf("a missing bucket directory: %v", err)
	}
	if err := os.Mkdir(filepath.Join(root, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	plugintest.CheckObjectStore(t, store, "backups")
}
