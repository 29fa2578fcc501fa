package backup

import (
	"bytes"
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// customCluster serves a core group, CRDs, and a custom group widgets.example.com
// in v2 (preferred) and v1, through client-go's fakes.
func customCluster(t *testing.T, objs ...runtime.Object) (*kube.Discovery, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	disc := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	disc.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "namespaces", Kind: "Namespace", Verbs: verbs},
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs},
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: verbs},
			{Name: "persistentvolumeclaims", Kind: "PersistentVolumeClaim", Namespaced: true, Verbs: verbs},
			{Name: "persistentvolumes", Kind: "PersistentVolume", Verbs: verbs},
		}},
		{GroupVersion: "apiextensions.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "customresourcedefinitions", Kind: "CustomResourceDefinition", Verbs: verbs},
		}},
		{GroupVersion: "example.com/v2", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs},
		}},
	}
	d, err := kube.NewDiscovery(disc)
	if err != nil {
		t.Fatal(err)
	}
	gvrs := map[schema.GroupVersionResource]string{}
	for _, r := range d.Resources() {
		for _, v := range d.Versions(r.GroupResource()) {
			gvrs[r.GroupResource().WithVersion(v)] = r.Kind + "List"
		}
	}
	return d, dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), gvrs, objs...)
}

func runOn(t *testing.T, d *kube.Discovery, dyn *dynamicfake.FakeDynamicClient, spec arkv1.BackupSpec) (map[string]string, *Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup: &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec}, Discovery: d, Dynamic: dyn, PageSize: 2,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]string{}
	for {
		item, data, err := r.Next()
		if err != nil {
			break
		}
		items[item.Path()] = string(data)
	}
	return items, res
}

func paths(items map[string]string) string {
	var out []string
	for p := range items {
		out = append(out, p)
	}
	return sorted(out)
}

func TestOrSelectorsBackUpEachMatchOnce(t *testing.T) {
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "ConfigMap", "a", "web", map[string]string{"app": "web"}, nil),
		obj("v1", "ConfigMap", "a", "db", map[string]string{"tier": "db"}, nil),
		obj("v1", "ConfigMap", "a", "both", map[string]string{"app": "web", "tier": "db"}, nil),
		obj("v1", "ConfigMap", "a", "neither", map[string]string{"app": "other"}, nil),
	}
	d, dyn := customCluster(t, objs...)
	items, res := runOn(t, d, dyn, arkv1.BackupSpec{OrLabelSelectors: []*metav1.LabelSelector{
		{MatchLabels: map[string]string{"app": "web"}},
		{MatchLabels: map[string]string{"tier": "db"}},
	}})
	want := "resources/configmaps/namespaces/a/both.json resources/configmaps/namespaces/a/db.json " +
		"resources/configmaps/namespaces/a/web.json resources/namespaces/cluster/a.json"
	if paths(items) != want || res.ResourceCounts["configmaps"] != 3 {
		t.Fatalf("got %s (counts %v)\nwant %s", paths(items), res.ResourceCounts, want)
	}
	errs := ValidateSpec(arkv1.BackupSpec{LabelSelector: &metav1.LabelSelector{}, OrLabelSelectors: []*metav1.LabelSelector{{}, nil}})
	if len(errs) != 2 || !strings.Contains(errs[0], "labelSelector and orLabelSelectors are both set") || !strings.Contains(errs[1], "orLabelSelectors[1] is empty") {
		t.Fatalf("validation: %q", errs)
	}
}

func TestExclusionLabelKeepsObjectsOutEvenWhenPulledIn(t *testing.T) {
	excluded := map[string]string{arkv1.ExcludeFromBackupLabel: "true"}
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "ConfigMap", "a", "kept", nil, nil),
		obj("v1", "ConfigMap", "a", "secret-ish", excluded, nil),
		obj("v1", "ConfigMap", "a", "false-value", map[string]string{arkv1.ExcludeFromBackupLabel: "false"}, nil),
		obj("v1", "Pod", "a", "pod", nil, map[string]interface{}{"spec": map[string]interface{}{
			"volumes": []interface{}{map[string]interface{}{"name": "d", "persistentVolumeClaim": map[string]interface{}{"claimName": "claim"}}},
		}}),
		obj("v1", "PersistentVolumeClaim", "a", "claim", excluded, map[string]interface{}{"spec": map[string]interface{}{"volumeName": "vol"}}),
		obj("v1", "PersistentVolume", "", "vol", nil, nil),
	}
	d, dyn := customCluster(t, objs...)
	items, res := runOn(t, d, dyn, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}})
	want := "resources/configmaps/namespaces/a/false-value.json resources/configmaps/namespaces/a/kept.json " +
		"resources/namespaces/cluster/a.json resources/pods/namespaces/a/pod.json"
	if paths(items) != want {
		t.Fatalf("got  %s\nwant %s", paths(items), want)
	}
	// The claim is excluded both when the pod pulls it in and when it is
	// listed; it is counted once, and its volume is not pulled in.
	if res.ExcludedItems["configmaps"] != 1 || res.ExcludedItems["persistentvolumeclaims"] != 1 || len(res.ExcludedItems) != 2 || res.Warnings+res.Errors != 0 {
		t.Fatalf("excluded %v, warnings %d, errors %d", res.ExcludedItems, res.Warnings, res.Errors)
	}
}

func crd(name string) *unstructured.Unstructured {
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name, nil, map[string]interface{}{"spec": map[string]interface{}{"group": "example.com"}})
}

func TestCustomResourcesBringTheirCRD(t *testing.T) {
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		crd("widgets.example.com"),
		crd("gadgets.example.com"),
		obj("example.com/v2", "Widget", "a", "w1", nil, nil),
		obj("example.com/v1", "Widget", "a", "w1", nil, nil),
	}
	d, dyn := customCluster(t, objs...)
	no := false
	for _, spec := range []arkv1.BackupSpec{
		{IncludedNamespaces: []string{"a"}},                               // cluster scope off by default
		{IncludedNamespaces: []string{"a"}, IncludeClusterResources: &no}, // and explicitly
		{IncludedResources: []string{"widgets"}},                          // only the custom resources named
	} {
		items, _ := runOn(t, d, dyn, spec)
		want := "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json " +
			"resources/namespaces/cluster/a.json resources/widgets.example.com/namespaces/a/w1.json"
		if paths(items) != want {
			t.Errorf("spec %+v:\ngot  %s\nwant %s", spec, paths(items), want)
		}
	}
	// With every namespace, all CRDs are backed up, the widgets' once.
	items, res := runOn(t, d, dyn, arkv1.BackupSpec{})
	if res.ResourceCounts["customresourcedefinitions.apiextensions.k8s.io"] != 2 || !strings.Contains(paths(items), "gadgets.example.com.json") {
		t.Errorf("full backup: %s %v", paths(items), res.ResourceCounts)
	}
	// Excluded by name, CRDs stay out.
	items, _ = runOn(t, d, dyn, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, ExcludedResources: []string{"customresourcedefinitions"}})
	if strings.Contains(paths(items), "customresourcedefinitions") {
		t.Errorf("excluded CRDs were backed up: %s", paths(items))
	}
}

func TestAllAPIVersionsWritesVersionDirectories(t *testing.T) {
	objs := []runtime.Object{
		obj("v1", "Namespace", "", "a", nil, nil),
		obj("v1", "ConfigMap", "a", "cm", nil, nil),
		crd("widgets.example.com"),
		obj("example.com/v2", "Widget", "a", "w1", nil, map[string]interface{}{"spec": map[string]interface{}{"size": "2"}}),
		obj("example.com/v1", "Widget", "a", "w1", nil, map[string]interface{}{"spec": map[string]interface{}{"size": "1"}}),
	}
	d, dyn := customCluster(t, objs...)
	items, res := runOn(t, d, dyn, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, IncludeAllAPIVersions: true})
	want := "resources/configmaps/namespaces/a/cm.json " +
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json " +
		"resources/namespaces/cluster/a.json " +
		"resources/widgets.example.com/namespaces/a/w1.json " +
		"resources/widgets.example.com/v1/namespaces/a/w1.json " +
		"resources/widgets.example.com/v2-preferredversion/namespaces/a/w1.json"
	if paths(items) != want {
		t.Fatalf("got  %s\nwant %s", paths(items), want)
	}
	unversioned := items["resources/widgets.example.com/namespaces/a/w1.json"]
	if items["resources/widgets.example.com/v2-preferredversion/namespaces/a/w1.json"] != unversioned ||
		!strings.Contains(unversioned, `"apiVersion":"example.com/v2"`) ||
		!strings.Contains(items["resources/widgets.example.com/v1/namespaces/a/w1.json"], `"apiVersion":"example.com/v1"`) {
		t.Fatalf("version copies: %v", items)
	}
	if res.ResourceCounts["widgets.example.com"] != 1 {
		t.Fatalf("an item is counted once whatever its copies: %v", res.ResourceCounts)
	}
	// Off by default.
	items, _ = runOn(t, d, dyn, arkv1.BackupSpec{IncludedNamespaces: []string{"a"}})
	if strings.Contains(paths(items), "/v1/") || strings.Contains(paths(items), "preferredversion") {
		t.Fatalf("version directories without includeAllAPIVersions: %s", paths(items))
	}
}
