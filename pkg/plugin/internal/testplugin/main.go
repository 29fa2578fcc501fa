// Command testplugin is the plugin binary of pkg/plugin's own tests: an
// in-memory object store and block store, and item actions that misbehave on command (the
// item's label "test.ark.heptio.com/do" says panic, hang, crash, slow,
// rename, error or noop) so the host's isolation can be checked through the
// real protocol. Answers that break the protocol itself, which Serve cannot
// give, come from the hand-written server of pkg/plugin/garbage_test.go.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/pkg/plugin"
)

const doLabel = "test.ark.heptio.com/do"

func main() {
	plugin.Serve(plugin.Plugins{
		Version: "v0.0.1-test",
		ObjectStores: map[string]plugin.ObjectStoreFactory{
			"test.ark.heptio.com/memory": func(config map[string]string) (plugin.ObjectStore, error) {
				if config["bucket"] == "" {
					return nil, fmt.Errorf("config needs bucket: %w", plugin.ErrInvalidConfig)
				}
				return memstore.New(config["bucket"]), nil
			},
		},
		BlockStores:        map[string]plugin.BlockStoreFactory{"test.ark.heptio.com/memory": newMemoryBlocks},
		BackupItemActions:  map[string]plugin.BackupItemAction{"test.ark.heptio.com/annotate": backupAction{}},
		RestoreItemActions: map[string]plugin.RestoreItemAction{"test.ark.heptio.com/annotate": restoreAction{}},
	})
}

// misbehave does what the item's label says; it returns the item to answer.
func misbehave(ctx context.Context, item *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	switch item.GetLabels()[doLabel] {
	case "panic":
		panic("told to panic on " + item.GetName())
	case "hang":
		<-make(chan struct{}) // ignores ctx on purpose: a plugin stuck for good
	case "crash":
		plugin.Log.Error("crashing on purpose", "item", item.GetName())
		os.Exit(3)
	case "slow":
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	case "rename":
		out := item.DeepCopy()
		out.SetName(item.GetName() + "-renamed")
		return out, nil
	case "error":
		return nil, fmt.Errorf("refused %s", item.GetName())
	}
	return item, nil
}

type backupAction struct{}

func (backupAction) AppliesTo() (plugin.ResourceSelector, error) {
	return plugin.ResourceSelector{IncludedResources: []string{"configmaps"}, ExcludedNamespaces: []string{"kube-system"}}, nil
}

func (backupAction) Execute(ctx context.Context, item *unstructured.Unstructured, backup *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	out, err := misbehave(ctx, item)
	if err != nil || out != item {
		return out, nil, err
	}
	if item.GetLabels()[doLabel] == "noop" {
		return item, nil, nil
	}
	out = item.DeepCopy()
	annotations := out.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["test.ark.heptio.com/backup"] = backup.Name
	out.SetAnnotations(annotations)
	return out, []plugin.ResourceIdentifier{{GroupResource: schema.GroupResource{Resource: "secrets"}, Namespace: item.GetNamespace(), Name: item.GetName()}}, nil
}

type restoreAction struct{}

func (restoreAction) AppliesTo() (plugin.ResourceSelector, error) {
	return plugin.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}

func (restoreAction) Execute(ctx context.Context, item *unstructured.Unstructured, restore *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	out, err := misbehave(ctx, item)
	if err != nil || out != item {
		return out, "", err
	}
	if item.GetLabels()[doLabel] == "noop" {
		return item, "", nil
	}
	out = item.DeepCopy()
	labels := out.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["test.ark.heptio.com/restore"] = restore.Name
	out.SetLabels(labels)
	return out, "restored by the test plugin", nil
}
