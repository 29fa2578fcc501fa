package backup

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/pkg/plugin"
)

// ItemAction is an item action from outside the engine (a plugin's), under
// the name its problems are reported with.
type ItemAction struct {
	Name   string
	Action plugin.BackupItemAction
}

// selectedAction is an ItemAction with its selector resolved for this backup.
type selectedAction struct {
	ItemAction
	selector *filter.ItemSelector
}

// pluginOutcome is what the plugins' actions made of one item.
type pluginOutcome struct {
	item       *unstructured.Unstructured
	additional []itemRef
	errs       []string
}

// resolveActions asks each action what it applies to. An action that
// cannot say is left out of this backup, as an error of the backup.
func (e *engine) resolveActions() {
	for _, a := range e.ItemActions {
		sel, err := a.Action.AppliesTo()
		if err != nil {
			e.problem("error", "", "", "", fmt.Sprintf("item action %s was not run: asking what it applies to failed: %v", a.Name, err))
			continue
		}
		resolved, notes, err := filter.NewItemSelector(e.Discovery, nil, sel)
		if err != nil {
			e.problem("error", "", "", "", fmt.Sprintf("item action %s was not run: %v", a.Name, err))
			continue
		}
		for _, n := range notes {
			e.Log.Info("item action selector: "+n, "action", a.Name)
		}
		e.actions = append(e.actions, selectedAction{ItemAction: a, selector: resolved})
	}
}

// runPluginActions runs the plugins' actions over a batch of items of one
// resource: each action gets, in one call, the items it applies to, in
// turn. An item an action fails keeps the item as it was before that
// action; the error is reported with the item.
func (e *engine) runPluginActions(ctx context.Context, resource string, items []*unstructured.Unstructured) []pluginOutcome {
	out := make([]pluginOutcome, len(items))
	for i, item := range items {
		out[i].item = item
	}
	for _, a := range e.actions {
		var idx []int
		var batch []*unstructured.Unstructured
		for i, o := range out {
			if a.selector.Matches(resource, o.item.GetNamespace(), o.item.GetLabels()) {
				idx = append(idx, i)
				batch = append(batch, o.item)
			}
		}
		if len(batch) == 0 {
			continue
		}
		results := plugin.ExecuteBackupItems(ctx, a.Action, batch, e.Backup)
		for j, r := range results {
			o := &out[idx[j]]
			if r.Err != nil {
				o.errs = append(o.errs, actionFailure(a.Name, r.Err))
				continue
			}
			o.item = r.Item
			for _, ref := range r.Additional {
				o.additional = append(o.additional, itemRef{Resource: ref.GroupResource, Namespace: ref.Namespace, Name: ref.Name})
			}
		}
	}
	return out
}

// actionFailure names the action in its error, unless the error does (a
// plugin's errors name it).
func actionFailure(name string, err error) string {
	if strings.Contains(err.Error(), name) {
		return "item action failed: " + err.Error()
	}
	return fmt.Sprintf("item action %s failed: %v", name, err)
}
