package backupdiff

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/restore"
)

func discovery(t testing.TB) *kube.Discovery {
	t.Helper()
	verbs := metav1.Verbs{"create", "delete", "get", "list", "watch"}
	ns := func(name, kind string) metav1.APIResource {
		return metav1.APIResource{Name: name, Kind: kind, Namespaced: true, Verbs: verbs}
	}
	d, err := kube.NewDiscovery(&fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{ns("configmaps", "ConfigMap"), ns("secrets", "Secret"), ns("services", "Service"), ns("pods", "Pod"),
			{Name: "namespaces", Kind: "Namespace", Verbs: verbs}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{ns("deployments", "Deployment")}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var listKinds = map[schema.GroupVersionResource]string{
	{Version: "v1", Resource: "configmaps"}:                 "ConfigMapList",
	{Version: "v1", Resource: "secrets"}:                    "SecretList",
	{Version: "v1", Resource: "services"}:                   "ServiceList",
	{Version: "v1", Resource: "pods"}:                       "PodList",
	{Version: "v1", Resource: "namespaces"}:                 "NamespaceList",
	{Group: "apps", Version: "v1", Resource: "deployments"}: "DeploymentList",
}

// object builds an object as a cluster serves it, server-set fields
// included; rv makes two reads of the "same" object differ where only the
// server writes.
func object(apiVersion, kind, ns, name, rv string, fields map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name, "uid": "uid-" + rv + name, "resourceVersion": rv, "creationTimestamp": "2020-01-0" + rv + "T00:00:00Z",
		"generation": int64(len(rv)), "managedFields": []any{map[string]any{"manager": "m" + rv}}}
	if ns != "" {
		md["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md, "status": map[string]any{"observed": rv}}
	for k, v := range fields {
		if k == "labels" || k == "ownerReferences" || k == "annotations" {
			md[k] = v
			continue
		}
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

func cm(ns, name, rv string, data map[string]any) *unstructured.Unstructured {
	return object("v1", "ConfigMap", ns, name, rv, map[string]any{"data": data})
}

func deploy(ns, name, rv string, replicas int64) *unstructured.Unstructured {
	return object("apps/v1", "Deployment", ns, name, rv, map[string]any{"spec": map[string]any{"replicas": replicas,
		"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx"}}}}},
		"annotations": map[string]any{"deployment.kubernetes.io/revision": rv}})
}

func svc(ns, name, rv, clusterIP string) *unstructured.Unstructured {
	return object("v1", "Service", ns, name, rv, map[string]any{"spec": map[string]any{"clusterIP": clusterIP, "clusterIPs": []any{clusterIP},
		"ports": []any{map[string]any{"name": "http", "port": int64(80), "nodePort": int64(30000 + len(rv))}}}})
}

func resourceOf(obj *unstructured.Unstructured) string {
	switch obj.GetKind() {
	case "Deployment":
		return "deployments.apps"
	case "Namespace":
		return "namespaces"
	}
	return strings.ToLower(obj.GetKind()) + "s"
}

// archiveOf writes the objects, in the order given, into an archive.
func archiveOf(t testing.TB, objs ...*unstructured.Unstructured) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(archive.Item{Resource: resourceOf(o), Namespace: o.GetNamespace(), Name: o.GetName()}, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func scope(t testing.TB, d *kube.Discovery, spec arkv1.RestoreSpec) *restore.Scope {
	t.Helper()
	s, err := restore.NewScope(spec, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func summary(rep *Report) string {
	var lines []string
	for _, it := range rep.Items {
		line := fmt.Sprintf("%s %s %s/%s", it.Status, it.Resource, it.Namespace, it.Name)
		if len(it.Paths) > 0 {
			line += " " + strings.Join(it.Paths, ",")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// The backup against the cluster it was taken from, after a ConfigMap was
// changed, a Deployment scaled, a Service deleted and a Secret added: those
// four, and nothing for objects whose only differences are the server's
// (resourceVersion, uid, managedFields, status, timestamps, generation,
// cluster IPs and node ports, the revision annotation, Ark's restore label).
func TestAgainstClusterFindsExactlyTheChanges(t *testing.T) {
	d := discovery(t)
	backedUp := []*unstructured.Unstructured{
		cm("app", "a-same", "1", map[string]any{"k": "v"}),
		cm("app", "b-edited", "1", map[string]any{"k": "v"}),
		deploy("app", "web", "1", 1),
		svc("app", "gone", "1", "10.0.0.5"),
		svc("app", "kept", "1", "10.0.0.6"),
		object("v1", "Pod", "app", "web-abc", "1", map[string]any{"ownerReferences": []any{map[string]any{"kind": "ReplicaSet", "name": "web-1", "controller": true}}}),
		object("v1", "Namespace", "", "app", "1", nil),
	}
	restoredLabel := cm("app", "a-same", "2", map[string]any{"k": "v"})
	restoredLabel.SetLabels(map[string]string{restore.RestoreLabel: "r1"})
	live := []runtime.Object{
		restoredLabel,
		cm("app", "b-edited", "2", map[string]any{"k": "changed"}),
		deploy("app", "web", "2", 3),
		svc("app", "kept", "2", "10.0.0.99"), // re-created by a restore: a new IP, a new node port
		object("v1", "Secret", "app", "added", "2", map[string]any{"data": map[string]any{}}),
		object("v1", "Namespace", "", "app", "2", nil),
		object("v1", "ConfigMap", "other", "outside", "2", nil), // not in the backup's scope
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, live...)
	bs, err := backup.NewScope(arkv1.BackupSpec{IncludedNamespaces: []string{"app"}}, d)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := AgainstCluster(context.Background(), bytes.NewReader(archiveOf(t, backedUp...)), ClusterOptions{
		Options: Options{Scope: scope(t, d, arkv1.RestoreSpec{}), Details: true}, Discovery: d, Dynamic: dyn,
		IncludeNew: true, BackupScope: bs, PageSize: 2, First: "backup b"})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"changed configmaps app/b-edited data.k",
		"changed deployments.apps app/web spec.replicas",
		"new secrets app/added",
		"gone services app/gone",
	}, "\n")
	if got := summary(rep); got != want {
		t.Errorf("got\n%s\nwant\n%s\nnotes %v", got, want, rep.Notes)
	}
	if rep.Total != (Counts{Unchanged: 3, Changed: 2, Gone: 1, New: 1, Skipped: 1}) {
		t.Errorf("totals %+v", rep.Total)
	}
	for _, it := range rep.Items {
		if it.Name == "web" && (len(it.Changes) != 1 || it.Changes[0].String() != "spec.replicas: 1 -> 3") {
			t.Errorf("details of web: %v", it.Changes)
		}
	}

	// Without IncludeNew, the secret is not looked for.
	rep, err = AgainstCluster(context.Background(), bytes.NewReader(archiveOf(t, backedUp...)), ClusterOptions{
		Options: Options{Scope: scope(t, d, arkv1.RestoreSpec{})}, Discovery: d, Dynamic: dyn, First: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.New != 0 || rep.Total.Changed != 2 || rep.Items[0].Changes != nil {
		t.Errorf("without IncludeNew or Details: %+v\n%s", rep.Total, summary(rep))
	}
}

// An archive whose items are not in the cluster's list order is still
// compared right: those items are looked up one by one, and an object
// reported new before its item came is taken back.
func TestAgainstClusterOutOfOrderArchive(t *testing.T) {
	d := discovery(t)
	var live []runtime.Object
	var backedUp []*unstructured.Unstructured
	for _, n := range []string{"e", "a", "d", "b", "c"} {
		backedUp = append(backedUp, cm("app", n, "1", map[string]any{"k": n}))
		live = append(live, cm("app", n, "2", map[string]any{"k": n}))
	}
	live = append(live, cm("app", "f-new", "2", nil))
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, live...)
	bs, _ := backup.NewScope(arkv1.BackupSpec{}, d)
	rep, err := AgainstCluster(context.Background(), bytes.NewReader(archiveOf(t, backedUp...)), ClusterOptions{
		Options: Options{Scope: scope(t, d, arkv1.RestoreSpec{})}, Discovery: d, Dynamic: dyn, IncludeNew: true, BackupScope: bs, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(rep); got != "new configmaps app/f-new" || rep.Total.Unchanged != 5 {
		t.Errorf("got %s, totals %+v, notes %v", got, rep.Total, rep.Notes)
	}
}

// With a namespace mapping, the backup's namespace is compared with the
// one a restore would write to.
func TestAgainstClusterNamespaceMapping(t *testing.T) {
	d := discovery(t)
	live := []runtime.Object{cm("copy", "a", "2", map[string]any{"k": "v"}), cm("app", "a", "2", map[string]any{"k": "other"})}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, live...)
	rep, err := AgainstCluster(context.Background(), bytes.NewReader(archiveOf(t, cm("app", "a", "1", map[string]any{"k": "v"}))), ClusterOptions{
		Options:   Options{Scope: scope(t, d, arkv1.RestoreSpec{NamespaceMapping: map[string]string{"app": "copy"}})},
		Discovery: d, Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Unchanged != 1 || len(rep.Items) != 0 {
		t.Errorf("%+v %s", rep.Total, summary(rep))
	}
}

func opener(data []byte) Opener {
	return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

func TestBackups(t *testing.T) {
	d := discovery(t)
	a := archiveOf(t, cm("app", "same", "1", map[string]any{"k": "v"}), cm("app", "edited", "1", map[string]any{"k": "v"}),
		cm("app", "dropped", "1", nil), svc("app", "s", "1", "10.0.0.1"))
	b := archiveOf(t, svc("app", "s", "2", "10.0.0.2"), cm("app", "added", "2", nil), cm("app", "edited", "2", map[string]any{"k": "w", "x": "y"}),
		cm("app", "same", "2", map[string]any{"k": "v"}))
	rep, err := Backups(context.Background(), opener(a), opener(b), "A", "B", Options{Scope: scope(t, d, arkv1.RestoreSpec{}), Details: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "new configmaps app/added\ngone configmaps app/dropped\nchanged configmaps app/edited data.k,data.x"
	if got := summary(rep); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if rep.Total != (Counts{Unchanged: 2, Changed: 1, Gone: 1, New: 1}) {
		t.Errorf("totals %+v", rep.Total)
	}
	// The restore's filters apply to both.
	rep, err = Backups(context.Background(), opener(a), opener(b), "A", "B", Options{Scope: scope(t, d, arkv1.RestoreSpec{ExcludedResources: []string{"configmaps"}})})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != (Counts{Unchanged: 1, Skipped: 3}) {
		t.Errorf("filtered: %+v", rep.Total)
	}
}
