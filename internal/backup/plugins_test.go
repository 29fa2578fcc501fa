package backup

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/pkg/plugin"
)

// batchingAction is an in-process stand-in for a plugin's action: it
// records its batches, annotates what it gets, pulls in a volume for cm1,
// and fails cm-bad.
type batchingAction struct {
	selector plugin.ResourceSelector
	batches  [][]string
	err      error
}

func (a *batchingAction) AppliesTo() (plugin.ResourceSelector, error) { return a.selector, a.err }

func (a *batchingAction) Execute(ctx context.Context, item *unstructured.Unstructured, b *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	r := a.ExecuteAll(ctx, []*unstructured.Unstructured{item}, b)[0]
	return r.Item, r.Additional, r.Err
}

func (a *batchingAction) ExecuteAll(_ context.Context, items []*unstructured.Unstructured, b *arkv1.Backup) []plugin.BackupResult {
	var names []string
	out := make([]plugin.BackupResult, len(items))
	for i, item := range items {
		names = append(names, item.GetName())
		if item.GetName() == "cm-bad" {
			out[i].Err = errors.New("cannot handle cm-bad")
			continue
		}
		changed := item.DeepCopy()
		changed.SetAnnotations(map[string]string{"seen-by": b.Name})
		out[i].Item = changed
		if item.GetName() == "cm1" {
			out[i].Additional = []plugin.ResourceIdentifier{{GroupResource: schema.GroupResource{Resource: "persistentvolumes"}, Name: "other"}}
		}
	}
	a.batches = append(a.batches, names)
	return out
}

func runWithActions(t *testing.T, spec arkv1.BackupSpec, actions ...ItemAction) (map[string]*unstructured.Unstructured, *Result) {
	t.Helper()
	objs := append(fixture(), obj("v1", "ConfigMap", "a", "cm-bad", nil, nil), obj("v1", "ConfigMap", "a", "cm3", nil, nil))
	d, dyn := fakeCluster(t, objs...)
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec},
		Discovery: d, Dynamic: dyn, ItemActions: actions,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]*unstructured.Unstructured{}
	for {
		item, data, err := r.Next()
		if err != nil {
			break
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
		items[item.Resource+"/"+item.Namespace+"/"+item.Name] = u
	}
	return items, res
}

func TestPluginActionsGetAPageAtOnce(t *testing.T) {
	a := &batchingAction{selector: plugin.ResourceSelector{IncludedResources: []string{"cm"}}}
	items, res := runWithActions(t, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}}, ItemAction{Name: "example.com/annotate", Action: a})
	// One LIST page holds a's three ConfigMaps: one call.
	if len(a.batches) != 1 || sorted(a.batches[0]) != "cm-bad cm1 cm3" {
		t.Errorf("batches = %v; want the three ConfigMaps of namespace a in one call", a.batches)
	}
	for _, name := range []string{"cm1", "cm3"} {
		if got := items["configmaps/a/"+name].GetAnnotations()["seen-by"]; got != "b" {
			t.Errorf("%s not changed by the action (annotation %q)", name, got)
		}
	}
	if _, ok := items["pods/a/pod"]; !ok || items["pods/a/pod"].GetAnnotations()["seen-by"] != "" {
		t.Errorf("the pod is missing or was given to an action that does not apply to pods")
	}
	if _, ok := items["persistentvolumes//other"]; !ok {
		t.Errorf("the volume the action pulled in is not in the archive: %v", keys(items))
	}
	if bad, ok := items["configmaps/a/cm-bad"]; !ok || bad.GetAnnotations()["seen-by"] != "" {
		t.Errorf("the item the action failed must be backed up as it was")
	}
	if res.Errors != 1 || !strings.Contains(res.Problems[0].Message, "item action example.com/annotate failed: cannot handle cm-bad") || res.Problems[0].Name != "cm-bad" {
		t.Errorf("errors = %d, problems = %+v; want one naming the action, the item and the reason", res.Errors, res.Problems)
	}
}

func TestPluginActionSelectors(t *testing.T) {
	byLabel := &batchingAction{selector: plugin.ResourceSelector{LabelSelector: "app=x", ExcludedResources: []string{"deployments.apps"}}}
	nothing := &batchingAction{selector: plugin.ResourceSelector{IncludedResources: []string{"widgets.example.com"}}}
	broken := &batchingAction{err: errors.New("no idea")}
	_, res := runWithActions(t, arkv1.BackupSpec{},
		ItemAction{Name: "example.com/by-label", Action: byLabel},
		ItemAction{Name: "example.com/nothing", Action: nothing},
		ItemAction{Name: "example.com/broken", Action: broken})
	var got []string
	for _, b := range byLabel.batches {
		got = append(got, b...)
	}
	if sorted(got) != "cm1 pod" {
		t.Errorf("the app=x action got %v; want cm1 and the pod (not the deployment, excluded)", got)
	}
	if len(nothing.batches) != 0 {
		t.Errorf("an action for a resource nothing serves was called with %v", nothing.batches)
	}
	if len(broken.batches) != 0 || res.Errors != 1 || !strings.Contains(res.Problems[0].Message, "item action example.com/broken was not run: asking what it applies to failed: no idea") {
		t.Errorf("an action whose AppliesTo fails: batches %v, problems %+v", broken.batches, res.Problems)
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// pullingAction pulls in the items listed in pulls (by item name), as a
// pod's action pulls in the ConfigMaps it mounts.
type pullingAction struct {
	selector plugin.ResourceSelector
	pulls    map[string][]plugin.ResourceIdentifier
}

func (a *pullingAction) AppliesTo() (plugin.ResourceSelector, error) { return a.selector, nil }

func (a *pullingAction) Execute(_ context.Context, item *unstructured.Unstructured, _ *arkv1.Backup) (*unstructured.Unstructured, []plugin.ResourceIdentifier, error) {
	return item, a.pulls[item.GetName()], nil
}

// An item an action pulls in that its resource's LIST also returns is
// written once, whichever comes first (main's archive refuses a second
// write of a path): the pod pulls in the ConfigMaps and a ConfigMap pulls
// in the pod, so one of the two is pulled in after being listed and the
// other before.
func TestPulledInItemsThatAreAlsoListedAreWrittenOnce(t *testing.T) {
	cm := func(name string) plugin.ResourceIdentifier {
		return plugin.ResourceIdentifier{GroupResource: schema.GroupResource{Resource: "configmaps"}, Namespace: "a", Name: name}
	}
	pods := &pullingAction{selector: plugin.ResourceSelector{IncludedResources: []string{"pods"}},
		pulls: map[string][]plugin.ResourceIdentifier{"pod": {cm("cm1"), cm("cm3")}}}
	cms := &pullingAction{selector: plugin.ResourceSelector{IncludedResources: []string{"configmaps"}},
		pulls: map[string][]plugin.ResourceIdentifier{"cm3": {{GroupResource: schema.GroupResource{Resource: "pods"}, Namespace: "a", Name: "pod"}}}}
	objs := append(fixture(), obj("v1", "ConfigMap", "a", "cm3", nil, nil))
	d, dyn := fakeCluster(t, objs...)
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: arkv1.BackupSpec{IncludedNamespaces: []string{"a"}}},
		Discovery: d, Dynamic: dyn,
		ItemActions: []ItemAction{{Name: "example.com/pods", Action: pods}, {Name: "example.com/cms", Action: cms}},
	}, &buf)
	if err != nil {
		t.Fatalf("backup failed: %v", err)
	}
	if res.Errors != 0 {
		t.Errorf("errors = %d, problems = %+v; want none", res.Errors, res.Problems)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]int{}
	for {
		item, _, err := r.Next()
		if err != nil {
			break
		}
		written[item.Resource+"/"+item.Namespace+"/"+item.Name]++
	}
	for _, key := range []string{"pods/a/pod", "configmaps/a/cm1", "configmaps/a/cm3"} {
		if written[key] != 1 {
			t.Errorf("%s written %d times; want once (archive: %v)", key, written[key], written)
		}
	}
}
