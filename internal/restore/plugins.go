package restore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/pkg/plugin"
)

// ItemAction is an item action from outside the engine (a plugin's), under
// the name its problems are reported with.
type ItemAction struct {
	Name   string
	Action plugin.RestoreItemAction
}

type selectedAction struct {
	ItemAction
	selector *filter.ItemSelector
}

// resolveActions asks each action what it applies to; resource names may
// name the archive's resources that the cluster does not serve yet. An
// action that cannot say is left out of this restore, as an error of it.
func (r *restorer) resolveActions() {
	known := slices.Sorted(maps.Keys(r.opts.Contents.Resources))
	for _, a := range r.opts.ItemActions {
		sel, err := a.Action.AppliesTo()
		if err != nil {
			r.results.arkError("item action %s was not run: asking what it applies to failed: %v", a.Name, err)
			continue
		}
		resolved, notes, err := filter.NewItemSelector(r.opts.Discovery, known, sel)
		if err != nil {
			r.results.arkError("item action %s was not run: %v", a.Name, err)
			continue
		}
		for _, n := range notes {
			r.log.Info("item action selector: "+n, "action", a.Name)
		}
		r.pluginActions = append(r.pluginActions, selectedAction{ItemAction: a, selector: resolved})
	}
}

// runPluginActions runs the actions that apply to obj, in order. An action's
// warning goes into the results; its error fails the item.
func (r *restorer) runPluginActions(ctx context.Context, key, sourceNamespace, target string, obj *unstructured.Unstructured, what string) (*unstructured.Unstructured, error) {
	for _, a := range r.pluginActions {
		if !a.selector.Matches(key, sourceNamespace, obj.GetLabels()) {
			continue
		}
		res := plugin.ExecuteRestoreItems(ctx, a.Action, []*unstructured.Unstructured{obj}, r.opts.Restore)[0]
		if res.Err != nil {
			return nil, fmt.Errorf("could not restore %s: %s", what, actionFailure(a.Name, res.Err))
		}
		if res.Warning != "" {
			r.results.warning(target, "%s: item action %s: %s", what, a.Name, res.Warning)
		}
		obj = res.Item
	}
	return obj, nil
}

// actionFailure names the action in its error, unless the error does (a
// plugin's errors name it).
func actionFailure(name string, err error) string {
	if strings.Contains(err.Error(), name) {
		return "item action failed: " + err.Error()
	}
	return fmt.Sprintf("item action %s failed: %v", name, err)
}
