package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
	"github.com/heptio/ark/pkg/plugin/plugintest"
)

// BenchmarkItemActionOverhead is what the protocol costs an item: a page of
// 500 ConfigMaps of 1 KiB through a no-op action of the test plugin, as the
// backup engine sends them (one call per page) and as the restore engine
// does (one call per item), per item (ns/op is per page of 500).
func BenchmarkItemActionOverhead(b *testing.B) {
	bin := plugintest.Build(b, "../..", "./pkg/plugin/internal/testplugin")
	c := plugintest.Start(b, bin, plugin.HostOptions{})
	payload := strings.Repeat("x", 1024)
	items := make([]*unstructured.Unstructured, 500)
	for i := range items {
		cm := configMap(fmt.Sprintf("cm-%d", i), "noop")
		cm.Object["data"] = map[string]any{"payload": payload}
		items[i] = cm
	}
	backup := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b1"}}
	restore := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: "r1"}}
	ctx := context.Background()
	backupAction := c.BackupItemAction("test.ark.heptio.com/annotate")
	restoreAction := c.RestoreItemAction("test.ark.heptio.com/annotate")
	if r := plugin.ExecuteBackupItems(ctx, backupAction, items[:1], backup)[0]; r.Err != nil {
		b.Fatal(r.Err) // starts the process outside the timing
	}
	b.Run("backup page of 500 in one call", func(b *testing.B) {
		for range b.N {
			for _, r := range plugin.ExecuteBackupItems(ctx, backupAction, items, backup) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
	})
	b.Run("restore 500 items one call each", func(b *testing.B) {
		for range b.N {
			for _, item := range items {
				if r := plugin.ExecuteRestoreItems(ctx, restoreAction, []*unstructured.Unstructured{item}, restore)[0]; r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
	})
}
