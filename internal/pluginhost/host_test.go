package pluginhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

func TestDiscover(t *testing.T) {
	bin := plugintest.Build(t, "../..", "./pkg/plugin/internal/testplugin")
	dir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"a-plugin":  data,
		"b-copy":    data, // serves the same names: refused
		"c-script":  []byte("#!/bin/sh\necho not a plugin\n"),
		"README.md": []byte("not a program"),
	} {
		mode := os.FileMode(0o755)
		if name == "README.md" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, name), content, mode); err != nil {
			t.Fatal(err)
		}
	}
	h, err := Discover(context.Background(), Options{Dir: dir, CallTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var got []string
	for _, p := range h.Plugins() {
		got = append(got, p.Kind+"/"+p.Name+"@"+filepath.Base(p.Binary)+":"+p.Version)
	}
	want := "backupitemaction/test.ark.heptio.com/annotate@a-plugin:v0.0.1-test blockstore/test.ark.heptio.com/memory@a-plugin:v0.0.1-test objectstore/test.ark.heptio.com/memory@a-plugin:v0.0.1-test restoreitemaction/test.ark.heptio.com/annotate@a-plugin:v0.0.1-test"
	if strings.Join(got, " ") != want {
		t.Errorf("loaded:\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	errs := strings.Join(h.Errors(), "\n")
	if !strings.Contains(errs, "b-copy: objectstore/test.ark.heptio.com/memory not loaded: "+filepath.Join(dir, "a-plugin")+" serves it already") ||
		!strings.Contains(errs, "c-script: not loaded: binary "+filepath.Join(dir, "c-script")+" could not be started") ||
		strings.Contains(errs, "README") {
		t.Errorf("errors:\n%s", errs)
	}

	// The plugin's store is a provider like any built-in one.
	set, err := objectproviders.Builtin().With(h.ObjectStoreProviders()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.New("test.ark.heptio.com/nothing", nil); err == nil || !strings.Contains(err.Error(), "use one of aws, gcp, azure, filesystem, test.ark.heptio.com/memory") {
		t.Errorf("an unknown name: %v", err)
	}
	store, err := set.New("test.ark.heptio.com/memory", map[string]string{"bucket": "b"})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckObjectStore(t, store, "b")

	// So is its block store.
	blocks, err := snapshotproviders.Builtin().With(h.BlockStoreProviders()...)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blocks.New("test.ark.heptio.com/memory", nil, snapshotproviders.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv-1"},
		"spec": map[string]any{"csi": map[string]any{"driver": "test.ark.heptio.com", "volumeHandle": "vol-a"}},
	}}
	plugintest.CheckBlockStore(t, bs, pv, "zone-a")
	if n := len(h.BackupItemActions()) + len(h.RestoreItemActions()); n != 2 {
		t.Errorf("%d item actions, want 2", n)
	}
}

func TestMissingDirectoryMeansNoPlugins(t *testing.T) {
	h, err := Discover(context.Background(), Options{Dir: filepath.Join(t.TempDir(), "none")})
	if err != nil || len(h.Plugins()) != 0 {
		t.Errorf("Discover = %v, %v", h.Plugins(), err)
	}
}
