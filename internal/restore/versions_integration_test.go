package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
)

var (
	hpaV2GVR = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
	rolesGVR = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
)

// hpa is a HorizontalPodAutoscaler as the API server serves it in version
// v (v2, or v1, whose only metric is targetCPUUtilizationPercentage), with a
// CPU target that tells which copy a restore used.
func hpa(v, ns, name string, cpu int64) map[string]any {
	spec := map[string]any{
		"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
		"minReplicas":    int64(1),
		"maxReplicas":    int64(4),
	}
	if v == "v1" {
		spec["targetCPUUtilizationPercentage"] = cpu
	} else {
		spec["metrics"] = []any{map[string]any{"type": "Resource", "resource": map[string]any{
			"name": "cpu", "target": map[string]any{"type": "Utilization", "averageUtilization": cpu},
		}}}
	}
	return newObj("autoscaling/"+v, "HorizontalPodAutoscaler", ns, name, map[string]any{"spec": spec})
}

// A Velero archive with API group versions, restored into a real API server
// (which serves autoscaling v2, preferred, and v1): the backup's preferred
// version when served, else a served one, and a clear error per item when
// none is; and the restore says the archive was not verified.
func TestIntegrationRestoreChoosesServedVersions(t *testing.T) {
	c := startLiveCluster(t)
	ns := newObj("v1", "Namespace", "", "legacy", nil)
	entries := []veleroEntry{
		{"resources/namespaces/cluster/legacy.json", ns},
		{"resources/namespaces/v1-preferredversion/cluster/legacy.json", ns},
		// Backed up where v2 was preferred: restored from the v2 copy.
		{"resources/horizontalpodautoscalers.autoscaling/namespaces/legacy/same.json", hpa("v2", "legacy", "same", 72)},
		{"resources/horizontalpodautoscalers.autoscaling/v2-preferredversion/namespaces/legacy/same.json", hpa("v2", "legacy", "same", 72)},
		{"resources/horizontalpodautoscalers.autoscaling/v1/namespaces/legacy/same.json", hpa("v1", "legacy", "same", 61)},
	}
	res := c.restore(t, veleroContents(t, entries...), "versions-1", arkv1.RestoreSpec{})
	checkNoErrors(t, res)
	if res.ItemsRestored != 1 || !strings.Contains(res.UnverifiedArchive, archive.OriginVelero+" without an index") {
		t.Fatalf("restored %d items, note %q", res.ItemsRestored, res.UnverifiedArchive)
	}
	if cpu := hpaCPU(t, c, "legacy", "same"); cpu != 72 {
		t.Errorf("the HPA was restored from the copy with CPU target %d, want the v2 copy's 72", cpu)
	}

	// Backed up on an old cluster that preferred autoscaling/v2beta2 (no
	// longer served): restored from the v1 copy, through v1.
	old := hpa("v2", "legacy", "older", 55)
	old["apiVersion"] = "autoscaling/v2beta2"
	entries = []veleroEntry{
		{"resources/horizontalpodautoscalers.autoscaling/namespaces/legacy/older.json", old},
		{"resources/horizontalpodautoscalers.autoscaling/v2beta2-preferredversion/namespaces/legacy/older.json", old},
		{"resources/horizontalpodautoscalers.autoscaling/v1/namespaces/legacy/older.json", hpa("v1", "legacy", "older", 44)},
	}
	res = c.restore(t, veleroContents(t, entries...), "versions-2", arkv1.RestoreSpec{})
	checkNoErrors(t, res)
	if res.ItemsRestored != 1 {
		t.Fatalf("restored %d items: %+v", res.ItemsRestored, res.Errors)
	}
	if cpu := hpaCPU(t, c, "legacy", "older"); cpu != 44 {
		t.Errorf("the HPA was restored from the copy with CPU target %d, want the v1 copy's 44", cpu)
	}

	// Only versions the cluster no longer serves.
	gone := hpa("v2", "legacy", "gone", 33)
	gone["apiVersion"] = "autoscaling/v2beta1"
	entries = []veleroEntry{
		{"resources/horizontalpodautoscalers.autoscaling/namespaces/legacy/gone.json", gone},
		{"resources/horizontalpodautoscalers.autoscaling/v2beta1-preferredversion/namespaces/legacy/gone.json", gone},
	}
	res = c.restore(t, veleroContents(t, entries...), "versions-3", arkv1.RestoreSpec{})
	want := "could not restore HorizontalPodAutoscaler legacy/gone: the backup holds horizontalpodautoscalers.autoscaling in version v2beta1 (preferred), and this cluster serves only v2, v1"
	if errs := res.Errors.Namespaces["legacy"]; len(errs) != 1 || errs[0] != want {
		t.Fatalf("errors %q\nwant %q", errs, want)
	}
}

func hpaCPU(t *testing.T, c *liveCluster, ns, name string) int64 {
	t.Helper()
	obj, err := c.dynamic.Resource(hpaV2GVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("HPA %s/%s: %v", ns, name, err)
	}
	metrics, _, _ := unstructured.NestedSlice(obj.Object, "spec", "metrics")
	if len(metrics) != 1 {
		t.Fatalf("HPA %s/%s has metrics %v", ns, name, metrics)
	}
	cpu, _, _ := unstructured.NestedInt64(metrics[0].(map[string]any), "resource", "target", "averageUtilization")
	return cpu
}

// Roles whose names the API server accepts but are no file names (a
// backslash, a tab, a newline, 300 bytes) are backed up by Ark's writer and
// restored with exactly their names and rules.
func TestIntegrationRestoresUnusualNames(t *testing.T) {
	c := startLiveCluster(t)
	ctx := context.Background()
	names := []string{`corp\alice`, "tab\tname", "line\nbreak", "ünï😀", strings.Repeat("r", 300), "Admin", "admin"}
	must[*unstructured.Unstructured](t)(c.dynamic.Resource(namespacesGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "odd"}}}, metav1.CreateOptions{}))
	for i, n := range names {
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "odd"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{names[(i+1)%len(names)]}}}}
		must[*rbacv1.Role](t)(c.kube.RbacV1().Roles("odd").Create(ctx, role, metav1.CreateOptions{}))
	}

	var buf bytes.Buffer
	w := must[*archive.Writer](t)(archive.NewWriter(&buf))
	add := func(key string, obj *unstructured.Unstructured) {
		data := must[[]byte](t)(json.Marshal(obj.Object))
		if err := w.Add(archive.Item{Resource: key, Namespace: obj.GetNamespace(), Name: obj.GetName()}, data); err != nil {
			t.Fatalf("Add(%q): %v", obj.GetName(), err)
		}
	}
	add(namespacesKey, must[*unstructured.Unstructured](t)(c.dynamic.Resource(namespacesGVR).Get(ctx, "odd", metav1.GetOptions{})))
	list := must[*unstructured.UnstructuredList](t)(c.dynamic.Resource(rolesGVR).Namespace("odd").List(ctx, metav1.ListOptions{}))
	for i := range list.Items {
		add("roles.rbac.authorization.k8s.io", &list.Items[i])
	}
	must[archive.Summary](t)(w.Close())
	contents := must[*archive.Contents](t)(archive.Extract(&buf, filepath.Join(t.TempDir(), "backup"), archive.Limits{RequireIndex: true}))
	c.deleteNamespaces(t, "odd")

	res := c.restore(t, contents, "odd-names", arkv1.RestoreSpec{})
	checkNoErrors(t, res)
	if res.ItemsRestored != len(names) || res.UnverifiedArchive != "" {
		t.Fatalf("restored %d of %d roles (note %q)", res.ItemsRestored, len(names), res.UnverifiedArchive)
	}
	roles := must[*rbacv1.RoleList](t)(c.kube.RbacV1().Roles("odd").List(ctx, metav1.ListOptions{}))
	var got []string
	for _, r := range roles.Items {
		got = append(got, r.Name)
		i := slices.Index(names, r.Name)
		if i < 0 || len(r.Rules) != 1 || !slices.Equal(r.Rules[0].ResourceNames, []string{names[(i+1)%len(names)]}) {
			t.Errorf("role %q restored with rules %+v", r.Name, r.Rules)
		}
	}
	want := slices.Clone(names)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("roles after the restore %q, want %q", got, want)
	}
}
