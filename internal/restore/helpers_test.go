package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// backedUp is one object of a test backup, under its archive resource name.
type backedUp struct {
	resource string
	obj      map[string]any
}

// newObj builds an object as the backup engine stores it, including the
// server-set fields a restore must drop.
func newObj(apiVersion, kind, namespace, name string, fields map[string]any) map[string]any {
	md := map[string]any{
		"name":              name,
		"uid":               "old-uid-" + name,
		"resourceVersion":   "12345",
		"creationTimestamp": "2018-01-02T03:04:05Z",
		"generation":        int64(3),
		"selfLink":          "/api/whatever/" + name,
		"managedFields":     []any{map[string]any{"manager": "kubectl"}},
	}
	if namespace != "" {
		md["namespace"] = namespace
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md, "status": map[string]any{"phase": "Old"}}
	for k, v := range fields {
		if k == "labels" || k == "annotations" || k == "ownerReferences" || k == "finalizers" {
			md[k] = v
			continue
		}
		o[k] = v
	}
	return o
}

func configMap(ns, name string, data map[string]any) backedUp {
	return backedUp{"configmaps", newObj("v1", "ConfigMap", ns, name, map[string]any{"data": data})}
}

func withLabels(b backedUp, labels map[string]any) backedUp {
	b.obj["metadata"].(map[string]any)["labels"] = labels
	return b
}

// writeContents writes a real archive with the items and extracts it, as the
// controller does before calling Run.
func writeContents(t testing.TB, items ...backedUp) *archive.Contents {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		u := unstructured.Unstructured{Object: it.obj}
		data, err := json.Marshal(it.obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(archive.Item{Resource: it.resource, Namespace: u.GetNamespace(), Name: u.GetName()}, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	contents, err := archive.Extract(&buf, filepath.Join(t.TempDir(), "backup"), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return contents
}

// servedResources is what the fake cluster's discovery serves.
func servedResources() []*metav1.APIResourceList {
	verbs := metav1.Verbs{"create", "delete", "get", "list", "watch"}
	ns := func(name, kind string, short ...string) metav1.APIResource {
		return metav1.APIResource{Name: name, Kind: kind, Namespaced: true, Verbs: verbs, ShortNames: short}
	}
	cl := func(name, kind string, short ...string) metav1.APIResource {
		return metav1.APIResource{Name: name, Kind: kind, Verbs: verbs, ShortNames: short}
	}
	return []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			ns("configmaps", "ConfigMap", "cm"), ns("secrets", "Secret"), ns("pods", "Pod", "po"),
			ns("services", "Service", "svc"), ns("serviceaccounts", "ServiceAccount", "sa"),
			ns("persistentvolumeclaims", "PersistentVolumeClaim", "pvc"), ns("events", "Event", "ev"),
			ns("limitranges", "LimitRange", "limits"), ns("endpoints", "Endpoints", "ep"),
			cl("persistentvolumes", "PersistentVolume", "pv"), cl("namespaces", "Namespace", "ns"),
			cl("nodes", "Node", "no"),
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			ns("deployments", "Deployment", "deploy"), ns("replicasets", "ReplicaSet", "rs"),
		}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{ns("jobs", "Job")}},
		{GroupVersion: "storage.k8s.io/v1", APIResources: []metav1.APIResource{cl("storageclasses", "StorageClass", "sc")}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{cl("clusterroles", "ClusterRole")}},
		{GroupVersion: "apiextensions.k8s.io/v1", APIResources: []metav1.APIResource{cl("customresourcedefinitions", "CustomResourceDefinition", "crd")}},
		{GroupVersion: "ark.heptio.com/v1", APIResources: []metav1.APIResource{ns("backups", "Backup"), ns("restores", "Restore"),
			ns("deletebackuprequests", "DeleteBackupRequest"), ns("downloadrequests", "DownloadRequest")}},
	}
}

func fakeDiscovery(t testing.TB) *kube.Discovery {
	t.Helper()
	d, err := kube.NewDiscovery(&fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: servedResources()}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newRestore(name string, spec arkv1.RestoreSpec) *arkv1.Restore {
	return &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "heptio-ark"}, Spec: spec}
}

// fakeCluster is a dynamic fake plus what a test needs to inspect it.
type fakeCluster struct {
	*dynamicfake.FakeDynamicClient
}

func newFakeCluster(existing ...runtime.Object) fakeCluster {
	return fakeCluster{dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), existing...)}
}

func (c fakeCluster) get(t testing.TB, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := c.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return obj
}

// createdKeys lists, in order, "<resource> <ns>/<name>" of every create.
func (c fakeCluster) creates() []string {
	var out []string
	for _, a := range c.Actions() {
		if ca, ok := a.(clienttesting.CreateAction); ok {
			obj := ca.GetObject().(*unstructured.Unstructured)
			out = append(out, ca.GetResource().Resource+" "+ca.GetNamespace()+"/"+obj.GetName())
		}
	}
	return out
}

var (
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	pvsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
)

// hookedDynamic calls before and after around every Create, outside the fake
// client's lock (which serializes everything it does).
type hookedDynamic struct {
	dynamic.Interface
	before, after func(gvr schema.GroupVersionResource, obj *unstructured.Unstructured)
}

func (h hookedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return hookedNamespaceable{h.Interface.Resource(gvr), h, gvr}
}

type hookedNamespaceable struct {
	dynamic.NamespaceableResourceInterface
	h   hookedDynamic
	gvr schema.GroupVersionResource
}

func (n hookedNamespaceable) Namespace(ns string) dynamic.ResourceInterface {
	return hookedResource{n.NamespaceableResourceInterface.Namespace(ns), n.h, n.gvr}
}

func (n hookedNamespaceable) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	n.h.before(n.gvr, obj)
	defer n.h.after(n.gvr, obj)
	return n.NamespaceableResourceInterface.Create(ctx, obj, opts, sub...)
}

type hookedResource struct {
	dynamic.ResourceInterface
	h   hookedDynamic
	gvr schema.GroupVersionResource
}

func (r hookedResource) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.h.before(r.gvr, obj)
	defer r.h.after(r.gvr, obj)
	return r.ResourceInterface.Create(ctx, obj, opts, sub...)
}

// fakeVolumes records the volumes it is asked to restore.
type fakeVolumes struct {
	mu    sync.Mutex
	calls []string
	err   error
	panic bool
}

func (f *fakeVolumes) RestoreVolume(_ context.Context, pv *unstructured.Unstructured, snap *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, pv.GetName()+"<-"+snap.SnapshotID)
	if f.panic {
		var m map[string]string
		m["boom"] = "x" // a provider's bug
	}
	if f.err != nil {
		return nil, f.err
	}
	out := pv.DeepCopy()
	_ = unstructured.SetNestedField(out.Object, "vol-from-"+snap.SnapshotID, "spec", "awsElasticBlockStore", "volumeID")
	return out, nil
}
