package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// restoreCRDFixture: a namespaced and a cluster-scoped custom resource
// definition and instances of both, all labelled suite=rcrd.
const restoreCRDFixture = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.rcrd.example.com, labels: {suite: rcrd}}
spec:
  group: rcrd.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: zones.rcrd.example.com, labels: {suite: rcrd}}
spec:
  group: rcrd.example.com
  scope: Cluster
  names: {plural: zones, singular: zone, kind: Zone}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: Namespace
metadata: {name: rcrd-app, labels: {suite: rcrd}}
`

const restoreCRDInstances = `
apiVersion: rcrd.example.com/v1
kind: Gadget
metadata: {name: small, namespace: rcrd-app, labels: {suite: rcrd}}
spec: {size: 1, color: red}
---
apiVersion: rcrd.example.com/v1
kind: Gadget
metadata: {name: large, namespace: rcrd-app, labels: {suite: rcrd}}
spec: {size: 42, color: blue}
---
apiVersion: rcrd.example.com/v1
kind: Zone
metadata: {name: north, labels: {suite: rcrd}}
spec: {region: north-1}
`

var (
	restoreGadgets = schema.GroupVersionResource{Group: "rcrd.example.com", Version: "v1", Resource: "gadgets"}
	restoreZones   = schema.GroupVersionResource{Group: "rcrd.example.com", Version: "v1", Resource: "zones"}
)

// TestRestoreCRDAndCustomResources backs up two CRDs and instances of them,
// deletes all of it (the cluster no longer knows the kinds), and restores:
// the CRDs come back, are waited for until Established and served, and then
// their custom resources are created with their data.
func TestRestoreCRDAndCustomResources(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	restoreApply(t, env, restoreCRDFixture)
	for _, name := range []string{"gadgets.rcrd.example.com", "zones.rcrd.example.com"} {
		restoreWaitEstablished(t, env, name)
	}
	restoreApply(t, env, restoreCRDInstances)

	restoreBackup(t, env, "rcrd-backup", "--selector", "suite=rcrd")
	entries := tarEntries(t, restoreDownload(t, env, "rcrd-backup"))
	var got []string
	for p := range entries {
		if strings.HasPrefix(p, "resources/") {
			got = append(got, p)
		}
	}
	wantEntries := []string{
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/gadgets.rcrd.example.com.json",
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/zones.rcrd.example.com.json",
		"resources/gadgets.rcrd.example.com/namespaces/rcrd-app/large.json",
		"resources/gadgets.rcrd.example.com/namespaces/rcrd-app/small.json",
		"resources/namespaces/cluster/rcrd-app.json",
		"resources/zones.rcrd.example.com/cluster/north.json",
	}
	if strings.Join(sortedStrings(got), "\n") != strings.Join(wantEntries, "\n") {
		t.Fatalf("backup entries:\n got  %v\n want %v", sortedStrings(got), wantEntries)
	}

	// Disaster: the namespace and both CRDs (and with them every instance).
	restoreDeleteCRDFixture(t, env)

	r := restoreMustComplete(t, env, "rcrd-restore", "rcrd-backup", 0)
	if r.Status.Progress.ItemsRestored != 5 || r.Status.Progress.TotalItems != 5 {
		t.Errorf("progress %+v, want 5 of 5", r.Status.Progress)
	}
	want := []string{
		"customresourcedefinitions.apiextensions.k8s.io gadgets.rcrd.example.com",
		"customresourcedefinitions.apiextensions.k8s.io zones.rcrd.example.com",
		"gadgets.rcrd.example.com rcrd-app/large",
		"gadgets.rcrd.example.com rcrd-app/small",
		"namespaces rcrd-app",
		"zones.rcrd.example.com north",
	}
	if created := restoreCreatedObjects(t, env, "rcrd-restore"); strings.Join(created, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the restore created:\n %v\nwant:\n %v", created, want)
	}
	for _, name := range []string{"gadgets.rcrd.example.com", "zones.rcrd.example.com"} {
		restoreWaitEstablished(t, env, name)
	}
	for name, wantSpec := range map[string]map[string]any{"small": {"size": int64(1), "color": "red"}, "large": {"size": int64(42), "color": "blue"}} {
		g, err := env.Dynamic.Resource(restoreGadgets).Namespace("rcrd-app").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("gadget %s: %v", name, err)
		}
		spec, _, _ := unstructured.NestedMap(g.Object, "spec")
		if len(spec) != 2 || spec["size"] != wantSpec["size"] || spec["color"] != wantSpec["color"] {
			t.Errorf("gadget %s spec %v, want %v", name, spec, wantSpec)
		}
	}
	z, err := env.Dynamic.Resource(restoreZones).Get(ctx, "north", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("zone north: %v", err)
	}
	if region, _, _ := unstructured.NestedString(z.Object, "spec", "region"); region != "north-1" {
		t.Errorf("zone north spec %v", z.Object["spec"])
	}

	// The log shows the order: the CRDs' tier, then the custom resources.
	logs := env.MustArk("restore", "logs", "rcrd-restore")
	crdAt := strings.Index(logs, "resource=customresourcedefinitions.apiextensions.k8s.io")
	gadgetsAt := strings.Index(logs, "resource=gadgets.rcrd.example.com")
	zonesAt := strings.Index(logs, "resource=zones.rcrd.example.com")
	if crdAt < 0 || gadgetsAt < crdAt || zonesAt < crdAt {
		t.Errorf("restore log does not restore the CRDs before their resources:\n%s", logs)
	}

	// Restoring again: all of it exists, so everything is a warning, and
	// the CRDs (found, not created) still let the custom resources through
	// to the API server, which says they exist.
	again := restoreMustComplete(t, env, "rcrd-again", "rcrd-backup", 5)
	if again.Status.Progress.ItemsRestored != 0 {
		t.Errorf("second restore created %d items", again.Status.Progress.ItemsRestored)
	}
	results := restoreResultsFile(t, env, "rcrd-backup", "rcrd-again")
	w := results["warnings"]
	wantCluster := []string{
		"CustomResourceDefinition gadgets.rcrd.example.com already exists, left as it is (never overwritten)",
		"CustomResourceDefinition zones.rcrd.example.com already exists, left as it is (never overwritten)",
		"Zone north already exists, left as it is (never overwritten)",
	}
	wantNS := []string{
		"Gadget rcrd-app/large already exists, left as it is (never overwritten)",
		"Gadget rcrd-app/small already exists, left as it is (never overwritten)",
	}
	if strings.Join(w.Cluster, "\n") != strings.Join(wantCluster, "\n") || strings.Join(w.Namespaces["rcrd-app"], "\n") != strings.Join(wantNS, "\n") || len(w.Namespaces) != 1 || len(w.Ark) != 0 {
		t.Errorf("warnings of the second restore: %+v", w)
	}
	out := env.MustArk("restore", "describe", "rcrd-again")
	if !strings.Contains(out, "  Cluster:\n    "+strings.Join(wantCluster, "\n    ")+"\n") ||
		!strings.Contains(out, "  Namespace rcrd-app:\n    "+strings.Join(wantNS, "\n    ")+"\n") {
		t.Errorf("describe of the second restore:\n%s", out)
	}
	gadgets, err := env.Dynamic.Resource(restoreGadgets).Namespace("rcrd-app").List(ctx, metav1.ListOptions{})
	if err != nil || len(gadgets.Items) != 2 {
		t.Fatalf("gadgets after the second restore: %v %v", err, gadgets)
	}
	for _, g := range gadgets.Items {
		if g.GetLabels()[arkv1.RestoreNameLabel] != "rcrd-restore" {
			t.Errorf("gadget %s was touched by the second restore: labels %v", g.GetName(), g.GetLabels())
		}
	}

	// Into an empty cluster again, naming the resources: "gadgets" is not
	// served by the cluster, but the backup has it, so the restore is valid;
	// a name neither has is refused, with both reasons.
	restoreDeleteCRDFixture(t, env)
	res, typo := restoreRun(t, env, "rcrd-typo", "rcrd-backup", "--include-resources", "crd,gadgetz")
	if res.Err == nil || typo.Status.Phase != arkv1.RestorePhaseFailedValidation || len(typo.Status.ValidationErrors) != 1 ||
		!strings.Contains(typo.Status.ValidationErrors[0], `unknown resource "gadgetz"`) ||
		!strings.Contains(typo.Status.ValidationErrors[0], `nor does backup "rcrd-backup" hold a resource of that name (it has customresourcedefinitions.apiextensions.k8s.io, gadgets.rcrd.example.com, namespaces, zones.rcrd.example.com)`) {
		t.Errorf("restore naming an unknown resource: err %v, status %+v\n%s", res.Err, typo.Status, res.Output())
	}
	restoreMustComplete(t, env, "rcrd-only", "rcrd-backup", 0, "--include-resources", "crd,gadgets", "--include-cluster-resources")
	want = []string{
		"customresourcedefinitions.apiextensions.k8s.io gadgets.rcrd.example.com",
		"customresourcedefinitions.apiextensions.k8s.io zones.rcrd.example.com",
		"gadgets.rcrd.example.com rcrd-app/large",
		"gadgets.rcrd.example.com rcrd-app/small",
		"namespaces rcrd-app",
	}
	if created := restoreCreatedObjects(t, env, "rcrd-only"); strings.Join(created, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the restore of crd,gadgets created:\n %v\nwant:\n %v", created, want)
	}
}

// restoreDeleteCRDFixture deletes the namespace and both CRDs, and with them
// every instance, and waits until the cluster no longer serves them.
func restoreDeleteCRDFixture(t *testing.T, env *harness.Env) {
	t.Helper()
	restoreDeleteNamespace(t, env, "rcrd-app")
	env.MustKubectl("delete", "crd", "gadgets.rcrd.example.com", "zones.rcrd.example.com", "--wait=true", "--timeout=120s")
	env.Eventually(2*time.Minute, "the CRDs gone", func() (bool, error) {
		var list apiextensionsv1.CustomResourceDefinitionList
		if err := env.Client.List(context.Background(), &list, client.MatchingLabels{"suite": "rcrd"}); err != nil {
			return false, err
		}
		return len(list.Items) == 0, nil
	})
	env.Eventually(time.Minute, "gadgets no longer served", func() (bool, error) {
		return env.Kubectl("get", "gadgets.rcrd.example.com", "-A").Err != nil, nil
	})
}

// restoreWaitEstablished waits until a CRD is Established.
func restoreWaitEstablished(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	env.Eventually(time.Minute, "CRD "+name+" Established", func() (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &crd); err != nil {
			return false, err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
