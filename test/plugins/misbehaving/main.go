// Command misbehaving is a plugin for the end-to-end tests: backup and
// restore item actions for ConfigMaps that panic, hang or crash their
// process on the items labelled test.ark.heptio.com/misbehave=panic|hang|crash,
// and leave every other item as it is.
package main

import (
	"context"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
)

const label = "test.ark.heptio.com/misbehave"

func main() {
	plugin.Serve(plugin.Plugins{
		Version:            "v0.0.1-e2e",
		BackupItemActions:  map[string]plugin.BackupItemAction{"test.ark.heptio.com/misbehaving": action{}},
		RestoreItemActions: map[string]plugin.RestoreItemAction{"test.ark.heptio.com/misbehaving": restoreAction{}},
	})
}

type action struct{}

func (action) AppliesTo() (plugin.ResourceSelector, error) {
	return plugin.ResourceSelector{IncludedResources: []string{"configmaps"}}, nil
}

func misbehave(item *unstructured.Unstructured) {
	switch item.GetLabels()[label] {
	case "panic":
		panic("misbehaving on purpose: " + item.GetName())
	case "hang":
		select {} // stuck for good, deaf to the call's deadline
	case "crash":
		plugin.Log.Error("crashing on purpose", "item", item.GetName())
		os.Exit(7)
	}
}

func (action) Execute(_ context.Context, item *unstructured.Unstructured, _ *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	misbehave(item)
	return item, nil, nil
}

type restoreAction struct{}

func (restoreAction) AppliesTo() (plugin.ResourceSelector, error) { return action{}.AppliesTo() }

func (restoreAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	misbehave(item)
	return item, "", nil
}
