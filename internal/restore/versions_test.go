package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// veleroEntry is one file of a Velero-style archive.
type veleroEntry struct {
	path string
	obj  map[string]any
}

// veleroContents builds an archive as Velero 1.4+ writes it (metadata/version
// "1.1.0", files with mode 0755, compact JSON, no index) and extracts it.
func veleroContents(t *testing.T, entries ...veleroEntry) *archive.Contents {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	write := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	write("metadata/version", []byte("1.1.0\n"))
	for _, e := range entries {
		data, err := json.Marshal(e.obj)
		if err != nil {
			t.Fatal(err)
		}
		write(e.path, data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := archive.Extract(&buf, filepath.Join(t.TempDir(), "backup"), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// hpaCopies is one HorizontalPodAutoscaler as Velero stores it with API group
// versions enabled: the unversioned copy and the preferred version's (v2),
// and the v1 copy.
func hpaCopies() []veleroEntry {
	v2 := newObj("autoscaling/v2", "HorizontalPodAutoscaler", "app", "web", map[string]any{"spec": map[string]any{"maxReplicas": int64(5)}})
	v1 := newObj("autoscaling/v1", "HorizontalPodAutoscaler", "app", "web", map[string]any{"spec": map[string]any{"maxReplicas": int64(5), "targetCPUUtilizationPercentage": int64(80)}})
	return []veleroEntry{
		{"resources/horizontalpodautoscalers.autoscaling/namespaces/app/web.json", v2},
		{"resources/horizontalpodautoscalers.autoscaling/v2-preferredversion/namespaces/app/web.json", v2},
		{"resources/horizontalpodautoscalers.autoscaling/v1/namespaces/app/web.json", v1},
	}
}

// widgetCopies is a custom resource in three versions, v1beta1 preferred.
func widgetCopies() []veleroEntry {
	obj := func(v string) map[string]any {
		return newObj("example.com/"+v, "Widget", "app", "w1", map[string]any{"spec": map[string]any{"storedAs": v}})
	}
	return []veleroEntry{
		{"resources/widgets.example.com/namespaces/app/w1.json", obj("v1beta1")},
		{"resources/widgets.example.com/v1beta1-preferredversion/namespaces/app/w1.json", obj("v1beta1")},
		{"resources/widgets.example.com/v1beta2/namespaces/app/w1.json", obj("v1beta2")},
		{"resources/widgets.example.com/v1alpha1/namespaces/app/w1.json", obj("v1alpha1")},
	}
}

// discoveryServing is a cluster that serves configmaps and namespaces, and
// the given group versions of HPAs and widgets (the first listed of a group
// is its preferred version).
func discoveryServing(t *testing.T, hpaVersions, widgetVersions []string) *kube.Discovery {
	t.Helper()
	verbs := metav1.Verbs{"create", "delete", "get", "list", "watch"}
	lists := []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "namespaces", Kind: "Namespace", Verbs: verbs},
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs},
	}}}
	for _, v := range hpaVersions {
		lists = append(lists, &metav1.APIResourceList{GroupVersion: "autoscaling/" + v, APIResources: []metav1.APIResource{{Name: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Verbs: verbs}}})
	}
	for _, v := range widgetVersions {
		lists = append(lists, &metav1.APIResourceList{GroupVersion: "example.com/" + v, APIResources: []metav1.APIResource{{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs}}})
	}
	d, err := kube.NewDiscovery(&fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: lists}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// createdVersions lists "<resource> <version> <apiVersion of the object>" of
// every create but namespaces.
func createdVersions(c fakeCluster) []string {
	var out []string
	for _, a := range c.Actions() {
		if ca, ok := a.(clienttesting.CreateAction); ok && ca.GetResource().Resource != "namespaces" {
			obj := ca.GetObject().(interface{ GetAPIVersion() string })
			out = append(out, ca.GetResource().Resource+" "+ca.GetResource().Version+" "+obj.GetAPIVersion())
		}
	}
	slices.Sort(out)
	return out
}

// The restore uses the version the target cluster serves, preferring the
// backup's preferred version, then the cluster's preferred one, then the
// highest by Kubernetes' version priority.
func TestRestoreChoosesAServedVersion(t *testing.T) {
	cases := []struct {
		name                  string
		hpaServed, widgServed []string
		want                  []string
	}{
		{"the backup's preferred versions are served", []string{"v2", "v1"}, []string{"v1", "v1beta1", "v1alpha1"},
			[]string{"horizontalpodautoscalers v2 autoscaling/v2", "widgets v1beta1 example.com/v1beta1"}},
		{"only older versions are served", []string{"v1"}, []string{"v1alpha1"},
			[]string{"horizontalpodautoscalers v1 autoscaling/v1", "widgets v1alpha1 example.com/v1alpha1"}},
		{"the cluster's preferred version before a higher one", nil, []string{"v1alpha1", "v1beta2"},
			[]string{"widgets v1alpha1 example.com/v1alpha1"}},
		{"the highest common version", nil, []string{"v1", "v1alpha1", "v1beta2"},
			[]string{"widgets v1beta2 example.com/v1beta2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cluster := newFakeCluster()
			res := run(t, Options{
				Restore:   newRestore("r", arkv1.RestoreSpec{}),
				Contents:  veleroContents(t, append(hpaCopies(), widgetCopies()...)...),
				Discovery: discoveryServing(t, c.hpaServed, c.widgServed),
				Dynamic:   cluster,
			})
			if got := createdVersions(cluster); !slices.Equal(got, c.want) {
				t.Fatalf("created %q, want %q (errors %+v, warnings %+v)", got, c.want, res.Errors, res.Warnings)
			}
			if res.Errors.Namespaces != nil || res.ItemsRestored != len(c.want) {
				t.Fatalf("restored %d, errors %+v", res.ItemsRestored, res.Errors)
			}
			// The restored object is the copy of that version, field by field.
			for _, w := range c.want {
				if strings.HasPrefix(w, "widgets ") {
					v := strings.Fields(w)[1]
					obj := cluster.get(t, widgetsGVR(v), "app", "w1")
					if got, _, _ := nestedString(obj.Object, "spec", "storedAs"); got != v {
						t.Errorf("the widget restored in %s holds the %s copy", v, got)
					}
				}
			}
		})
	}
}

// When the cluster serves none of the versions the archive holds, every item
// fails with a reason naming the versions on both sides.
func TestRestoreReportsUnservedVersions(t *testing.T) {
	cluster := newFakeCluster()
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{}),
		Contents:  veleroContents(t, widgetCopies()...),
		Discovery: discoveryServing(t, nil, []string{"v2", "v1"}),
		Dynamic:   cluster,
	})
	if got := createdVersions(cluster); len(got) != 0 {
		t.Fatalf("created %q", got)
	}
	want := "could not restore Widget app/w1: the backup holds widgets.example.com in versions v1beta2, v1beta1 (preferred), v1alpha1, and this cluster serves only v2, v1"
	if errs := res.Errors.Namespaces["app"]; len(errs) != 1 || errs[0] != want {
		t.Fatalf("errors %q\nwant %q", errs, want)
	}
	if res.TotalItems != 1 || res.ItemsRestored != 0 {
		t.Fatalf("restored %d of %d", res.ItemsRestored, res.TotalItems)
	}
}

// An archive without an index is restored, and the result says once that its
// items could not be verified.
func TestRestoreOfAnUnindexedArchiveSaysSo(t *testing.T) {
	cm := newObj("v1", "ConfigMap", "app", "settings", map[string]any{"data": map[string]any{"k": "v"}})
	contents := veleroContents(t,
		veleroEntry{"resources/configmaps/namespaces/app/settings.json", cm},
		veleroEntry{"resources/configmaps/v1-preferredversion/namespaces/app/settings.json", cm},
	)
	cluster := newFakeCluster()
	res := run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Contents: contents, Discovery: discoveryServing(t, nil, nil), Dynamic: cluster})
	if res.ItemsRestored != 1 || res.TotalItems != 1 {
		t.Fatalf("restored %d of %d: %+v", res.ItemsRestored, res.TotalItems, res.Errors)
	}
	want := "the archive was written by " + archive.OriginVelero + " without an index, so only its structure was checked, not each item's content"
	if res.UnverifiedArchive != want {
		t.Fatalf("UnverifiedArchive = %q, want %q", res.UnverifiedArchive, want)
	}
	// Ark's own archives are verified: nothing to say.
	res = run(t, Options{Restore: newRestore("r2", arkv1.RestoreSpec{}), Contents: writeContents(t, configMap("app2", "c", nil)), Discovery: discoveryServing(t, nil, nil), Dynamic: newFakeCluster()})
	if res.UnverifiedArchive != "" {
		t.Fatalf("UnverifiedArchive = %q for an indexed archive", res.UnverifiedArchive)
	}
}

func TestChooseVersion(t *testing.T) {
	ri := func(preferred string, versions ...string) *archive.ResourceItems {
		r := &archive.ResourceItems{PreferredVersion: preferred, Versions: map[string]*archive.Listing{}}
		for _, v := range versions {
			r.Versions[v] = &archive.Listing{}
		}
		return r
	}
	cases := []struct {
		name         string
		items        *archive.ResourceItems
		served       []string
		want         string
		wantUnserved string
	}{
		{"unversioned archive", &archive.ResourceItems{}, []string{"v1"}, "", ""},
		{"backup preferred", ri("v1", "v1", "v2"), []string{"v2", "v1"}, "v1", ""},
		{"cluster preferred", ri("v1beta1", "v1beta1", "v1", "v1beta2"), []string{"v1beta2", "v1"}, "v1beta2", ""},
		{"highest common", ri("v3", "v3", "v1alpha1", "v1", "v1beta1"), []string{"v4", "v1alpha1", "v1beta1", "v1"}, "v1", ""},
		{"no preferred recorded", ri("", "v1beta1", "v1"), []string{"v2", "v1beta1", "v1"}, "v1", ""},
		{"none served", ri("v1", "v1"), []string{"v2"}, "v1", "the backup holds x.example.com in version v1 (preferred), and this cluster serves only v2"},
		{"not served at all", ri("v1", "v1", "v1beta1"), nil, "v1", "the backup holds x.example.com in versions v1 (preferred), v1beta1, and this cluster serves none of them"},
	}
	for _, c := range cases {
		got := chooseVersion("x.example.com", c.items, c.served)
		if got.version != c.want || got.unserved != c.wantUnserved || got.listing == nil {
			t.Errorf("%s: chose %q (unserved %q), want %q (%q)", c.name, got.version, got.unserved, c.want, c.wantUnserved)
		}
		if got.version != "" && got.preferred != (got.version == c.items.PreferredVersion) {
			t.Errorf("%s: preferred directory %v", c.name, got.preferred)
		}
	}
}

func widgetsGVR(v string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "example.com", Version: v, Resource: "widgets"}
}

func nestedString(obj map[string]any, fields ...string) (string, bool, error) {
	return unstructured.NestedString(obj, fields...)
}
