package restore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/pkg/plugin"
)

// relabel is an in-process stand-in for a plugin's restore action.
type relabel struct {
	selector plugin.ResourceSelector
	err      error
	mu       sync.Mutex
	seen     []string
}

func (a *relabel) AppliesTo() (plugin.ResourceSelector, error) { return a.selector, a.err }

func (a *relabel) Execute(_ context.Context, item *unstructured.Unstructured, r *arkv1.Restore) (*unstructured.Unstructured, string, error) {
	a.mu.Lock()
	a.seen = append(a.seen, item.GetNamespace()+"/"+item.GetName())
	a.mu.Unlock()
	if item.GetName() == "creds" {
		return nil, "", errors.New("will not touch secrets named creds")
	}
	out := item.DeepCopy()
	labels := out.GetLabels()
	labels["relabelled-by"] = r.Name
	out.SetLabels(labels)
	return out, "relabelled " + item.GetName(), nil
}

func TestPluginActionsChangeWhatIsCreated(t *testing.T) {
	cluster := newFakeCluster()
	action := &relabel{selector: plugin.ResourceSelector{IncludedResources: []string{"configmaps", "secrets"}, IncludedNamespaces: []string{"app"}}}
	broken := &relabel{err: errors.New("no idea")}
	res := run(t, Options{
		Restore:   newRestore("r1", arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"app": "copy"}}),
		Contents:  writeContents(t, appBackup()...),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
		ItemActions: []ItemAction{
			{Name: "example.com/relabel", Action: action},
			{Name: "example.com/broken", Action: broken},
		},
	})
	// The selector names the backed-up namespace; the action sees the item
	// as it will be created, in the mapped one, with Ark's label.
	slices.Sort(action.seen)
	if strings.Join(action.seen, " ") != "copy/creds copy/settings" {
		t.Errorf("the action saw %v; want the secret and the configmap, mapped", action.seen)
	}
	cm := cluster.get(t, configMapsGVR, "copy", "settings")
	if cm.GetLabels()["relabelled-by"] != "r1" || cm.GetLabels()[RestoreLabel] != "r1" {
		t.Errorf("configmap labels = %v; want the action's change and Ark's label", cm.GetLabels())
	}
	if got := res.Warnings.Namespaces["copy"]; len(got) != 1 || !strings.Contains(got[0], "item action example.com/relabel: relabelled settings") {
		t.Errorf("warnings = %v; want the action's warning with its name", res.Warnings.Namespaces)
	}
	if got := res.Errors.Namespaces["copy"]; len(got) != 1 || !strings.Contains(got[0], "could not restore Secret copy/creds (backed up from namespace app): item action example.com/relabel failed: will not touch secrets named creds") {
		t.Errorf("errors = %v; want the secret's failure naming the action", res.Errors.Namespaces)
	}
	for _, c := range cluster.creates() {
		if c == "secrets copy/creds" {
			t.Errorf("the secret the action failed was created anyway")
		}
	}
	if len(broken.seen) != 0 || len(res.Errors.Ark) != 1 || !strings.Contains(res.Errors.Ark[0], "item action example.com/broken was not run: asking what it applies to failed: no idea") {
		t.Errorf("an action whose AppliesTo fails: saw %v, ark errors %v", broken.seen, res.Errors.Ark)
	}
}
