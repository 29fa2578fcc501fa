// Command noop is the plugin of the load benchmark: backup and restore item
// actions for every ConfigMap that return the item as it is, so a run with
// it measures what the plugin protocol costs.
package main

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
)

func main() {
	plugin.Serve(plugin.Plugins{
		Version:            "v0.0.1-bench",
		BackupItemActions:  map[string]plugin.BackupItemAction{"test.ark.heptio.com/noop": backupAction{}},
		RestoreItemActions: map[string]plugin.RestoreItemAction{"test.ark.heptio.com/noop": restoreAction{}},
	})
}

var configMaps = plugin.ResourceSelector{IncludedResources: []string{"configmaps"}}

type backupAction struct{}

func (backupAction) AppliesTo() (plugin.ResourceSelector, error) { return configMaps, nil }

func (backupAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	return item, nil, nil
}

type restoreAction struct{}

func (restoreAction) AppliesTo() (plugin.ResourceSelector, error) { return configMaps, nil }

func (restoreAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	return item, "", nil
}
