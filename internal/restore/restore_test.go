package restore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	arkv1 "github.com/heptio/ark/api/v1"
)

func boolPtr(b bool) *bool { return &b }

func run(t *testing.T, opts Options) Result {
	t.Helper()
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func controlledBy(kind, name string) []any {
	return []any{map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u", "controller": true}}
}

// appBackup is a typical namespace: config, a secret, a service, a
// deployment with its replicaset and pod (both owned), and a bare pod.
func appBackup() []backedUp {
	return []backedUp{
		{"namespaces", newObj("v1", "Namespace", "", "app", map[string]any{"labels": map[string]any{"team": "a"}, "spec": map[string]any{"finalizers": []any{"kubernetes"}}})},
		configMap("app", "settings", map[string]any{"k": "v"}),
		{"secrets", newObj("v1", "Secret", "app", "creds", map[string]any{"data": map[string]any{"p": "cGFzcw=="}})},
		{"services", newObj("v1", "Service", "app", "web", map[string]any{"spec": map[string]any{"clusterIP": "10.0.0.5", "ports": []any{map[string]any{"port": int64(80)}}}})},
		{"deployments.apps", newObj("apps/v1", "Deployment", "app", "web", map[string]any{"spec": map[string]any{"replicas": int64(1)}})},
		{"replicasets.apps", newObj("apps/v1", "ReplicaSet", "app", "web-abc", map[string]any{"ownerReferences": controlledBy("Deployment", "web")})},
		{"pods", newObj("v1", "Pod", "app", "web-abc-1", map[string]any{"ownerReferences": controlledBy("ReplicaSet", "web-abc"), "spec": map[string]any{"nodeName": "n1"}})},
		{"pods", newObj("v1", "Pod", "app", "bare", map[string]any{"spec": map[string]any{"nodeName": "n1"}})},
	}
}

func TestRunRestoresANamespace(t *testing.T) {
	cluster := newFakeCluster()
	var progress []arkv1.RestoreProgress
	res := run(t, Options{
		Restore:   newRestore("r1", arkv1.RestoreSpec{BackupName: "b"}),
		Contents:  writeContents(t, appBackup()...),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
		Progress:  func(p arkv1.RestoreProgress) { progress = append(progress, p) },
	})
	if res.Errors.Namespaces != nil || res.Errors.Cluster != nil || res.Errors.Ark != nil {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if res.ItemsRestored != 5 || res.TotalItems != 5 {
		t.Errorf("restored %d of %d items, want 5 of 5 (owned replicaset and pod skipped)", res.ItemsRestored, res.TotalItems)
	}
	wantOrder := []string{
		"namespaces /app",
		"secrets app/creds", "configmaps app/settings", "pods app/bare", // priorities
		"deployments app/web", "services app/web", // then alphabetically
	}
	if got := cluster.creates(); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("creates:\n got %q\nwant %q", got, wantOrder)
	}

	ns := cluster.get(t, namespacesGVR, "", "app")
	if ns.GetLabels()["team"] != "a" || ns.GetLabels()[RestoreLabel] != "r1" {
		t.Errorf("namespace labels = %v, want the backed-up ones plus ark-restore", ns.GetLabels())
	}
	if fin, _, _ := unstructured.NestedStringSlice(ns.Object, "spec", "finalizers"); !slices.Equal(fin, []string{"kubernetes"}) {
		t.Errorf("namespace spec.finalizers = %v, want kept", fin)
	}
	cm := cluster.get(t, configMapsGVR, "app", "settings")
	if cm.GetUID() != "" || cm.GetResourceVersion() != "" || cm.GetLabels()[RestoreLabel] != "r1" {
		t.Errorf("configmap metadata not reset/labelled: %v", cm.Object["metadata"])
	}
	if _, has := cm.Object["status"]; has {
		t.Error("status was restored")
	}
	pod := cluster.get(t, podsGVR, "app", "bare")
	if _, has, _ := unstructured.NestedString(pod.Object, "spec", "nodeName"); has {
		t.Error("pod kept spec.nodeName")
	}
	svc := cluster.get(t, schema.GroupVersionResource{Version: "v1", Resource: "services"}, "app", "web")
	if _, has, _ := unstructured.NestedString(svc.Object, "spec", "clusterIP"); has {
		t.Error("service kept its clusterIP")
	}

	last := progress[len(progress)-1]
	if last.ItemsRestored != 5 || last.TotalItems != 5 {
		t.Errorf("last progress = %+v, want 5 of 5", last)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i].ItemsRestored < progress[i-1].ItemsRestored {
			t.Errorf("progress went backwards: %+v then %+v", progress[i-1], progress[i])
		}
	}
}

func TestRunLeavesExistingObjectsAlone(t *testing.T) {
	existing := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": "app"},
		"data":     map[string]any{"k": "live"},
	}}
	existingNS := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "app"}}}
	cluster := newFakeCluster(existing, existingNS)
	res := run(t, Options{
		Restore:   newRestore("r1", arkv1.RestoreSpec{}),
		Contents:  writeContents(t, configMap("app", "settings", map[string]any{"k": "backup"}), configMap("app", "other", nil)),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
	})
	want := []string{"ConfigMap app/settings already exists, left as it is (never overwritten)"}
	if got := res.Warnings.Namespaces["app"]; !reflect.DeepEqual(got, want) {
		t.Errorf("warnings = %q, want %q (and none for the existing namespace)", got, want)
	}
	if res.ItemsRestored != 1 || res.TotalItems != 2 {
		t.Errorf("restored %d of %d, want 1 of 2", res.ItemsRestored, res.TotalItems)
	}
	cm := cluster.get(t, configMapsGVR, "app", "settings")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "k"); v != "live" || cm.GetLabels()[RestoreLabel] != "" {
		t.Errorf("existing configmap was changed: %v", cm.Object)
	}
	for _, a := range cluster.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			t.Errorf("restore did %s %s", a.GetVerb(), a.GetResource())
		}
	}
}

func TestRunMapsNamespaces(t *testing.T) {
	cluster := newFakeCluster()
	pv := backedUp{"persistentvolumes", newObj("v1", "PersistentVolume", "", "pv1", map[string]any{"spec": map[string]any{
		"claimRef": map[string]any{"namespace": "app", "name": "data", "uid": "old"}, "hostPath": map[string]any{"path": "/x"}}})}
	pvc := backedUp{"persistentvolumeclaims", newObj("v1", "PersistentVolumeClaim", "app", "data", map[string]any{"spec": map[string]any{"volumeName": "pv1"}})}
	res := run(t, Options{
		Restore: newRestore("r1", arkv1.RestoreSpec{
			IncludedNamespaces: []string{"app"},
			NamespaceMapping:   map[string]string{"app": "app-copy"},
		}),
		Contents:  writeContents(t, append(appBackup(), pv, pvc)...),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
	})
	if len(res.Errors.Namespaces)+len(res.Errors.Cluster) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	ns := cluster.get(t, namespacesGVR, "", "app-copy")
	if ns.GetLabels()["team"] != "a" {
		t.Errorf("mapped namespace was not made from the backed-up one: %v", ns.GetLabels())
	}
	cluster.get(t, configMapsGVR, "app-copy", "settings")
	if _, err := cluster.Resource(configMapsGVR).Namespace("app").Get(context.Background(), "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the source namespace got items: %v", err)
	}
	// includeClusterResources is unset and namespaces are filtered: the PV
	// comes along only because a restored claim uses it, re-pointed at the
	// mapped namespace.
	restoredPV := cluster.get(t, pvsGVR, "", "pv1")
	if ref, _, _ := unstructured.NestedStringMap(restoredPV.Object, "spec", "claimRef"); ref["namespace"] != "app-copy" || ref["uid"] != "" {
		t.Errorf("pv claimRef = %v, want namespace app-copy and no uid", ref)
	}
	if res.ItemsRestored != 7 || res.TotalItems != 7 {
		t.Errorf("restored %d of %d, want 7 of 7", res.ItemsRestored, res.TotalItems)
	}
}

func TestRunFilters(t *testing.T) {
	items := []backedUp{
		withLabels(configMap("a", "cm1", nil), map[string]any{"app": "x"}),
		withLabels(configMap("a", "cm2", nil), map[string]any{"app": "y"}),
		withLabels(configMap("b", "cm3", nil), map[string]any{"app": "x"}),
		{"secrets", newObj("v1", "Secret", "a", "s1", map[string]any{"labels": map[string]any{"app": "x"}})},
		{"storageclasses.storage.k8s.io", newObj("storage.k8s.io/v1", "StorageClass", "", "fast", map[string]any{"provisioner": "p"})},
		{"clusterroles.rbac.authorization.k8s.io", newObj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader", nil)},
		{"persistentvolumes", newObj("v1", "PersistentVolume", "", "unclaimed", map[string]any{"spec": map[string]any{}})},
		{"nodes", newObj("v1", "Node", "", "n1", nil)},
		{"events", newObj("v1", "Event", "a", "e1", nil)},
		{"backups.ark.heptio.com", newObj("ark.heptio.com/v1", "Backup", "heptio-ark", "b1", nil)},
		{"restores.ark.heptio.com", newObj("ark.heptio.com/v1", "Restore", "heptio-ark", "r0", nil)},
		{"deletebackuprequests.ark.heptio.com", newObj("ark.heptio.com/v1", "DeleteBackupRequest", "heptio-ark", "b1-delete", nil)},
		{"downloadrequests.ark.heptio.com", newObj("ark.heptio.com/v1", "DownloadRequest", "heptio-ark", "b1-log", nil)},
	}
	cases := []struct {
		name string
		spec arkv1.RestoreSpec
		want []string
	}{
		{"everything", arkv1.RestoreSpec{}, []string{
			"storageclasses /fast", "persistentvolumes /unclaimed", "secrets a/s1", "configmaps a/cm1", "configmaps a/cm2", "configmaps b/cm3", "clusterroles /reader"}},
		{"included namespace leaves cluster resources out", arkv1.RestoreSpec{IncludedNamespaces: []string{"a"}}, []string{
			"secrets a/s1", "configmaps a/cm1", "configmaps a/cm2"}},
		{"excluded namespace", arkv1.RestoreSpec{ExcludedNamespaces: []string{"a"}}, []string{"configmaps b/cm3"}},
		{"star and exclusion", arkv1.RestoreSpec{IncludedNamespaces: []string{"*"}, ExcludedNamespaces: []string{"b"}, IncludeClusterResources: boolPtr(false)}, []string{
			"secrets a/s1", "configmaps a/cm1", "configmaps a/cm2"}},
		{"cluster resources forced in", arkv1.RestoreSpec{IncludedNamespaces: []string{"b"}, IncludeClusterResources: boolPtr(true)}, []string{
			"storageclasses /fast", "persistentvolumes /unclaimed", "configmaps b/cm3", "clusterroles /reader"}},
		{"included resources by short name and resource.group", arkv1.RestoreSpec{IncludedResources: []string{"cm", "storageclasses.storage.k8s.io"}}, []string{
			"storageclasses /fast", "configmaps a/cm1", "configmaps a/cm2", "configmaps b/cm3"}},
		{"excluded resource by kind", arkv1.RestoreSpec{ExcludedResources: []string{"ConfigMap", "clusterroles.rbac.authorization.k8s.io"}}, []string{
			"storageclasses /fast", "persistentvolumes /unclaimed", "secrets a/s1"}},
		{"label selector", arkv1.RestoreSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}}, []string{
			"secrets a/s1", "configmaps a/cm1", "configmaps b/cm3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cluster := newFakeCluster()
			res := run(t, Options{
				Restore:   newRestore("r", c.spec),
				Contents:  writeContents(t, items...),
				Discovery: fakeDiscovery(t),
				Dynamic:   cluster,
			})
			var got []string
			for _, cr := range cluster.creates() {
				if !strings.HasPrefix(cr, "namespaces ") {
					got = append(got, cr)
				}
			}
			if got := sortWithinTiers(got); !reflect.DeepEqual(got, c.want) {
				t.Errorf("created:\n got %q\nwant %q", got, c.want)
			}
			if res.ItemsRestored != len(c.want) || res.TotalItems != len(c.want) {
				t.Errorf("restored %d of %d, want %d of %d", res.ItemsRestored, res.TotalItems, len(c.want), len(c.want))
			}
			if len(res.Warnings.Ark) > 0 || len(res.Errors.Ark)+len(res.Errors.Cluster)+len(res.Errors.Namespaces) > 0 {
				t.Errorf("warnings %+v errors %+v", res.Warnings, res.Errors)
			}
		})
	}
}

// sortWithinTiers sorts each run of creates of one resource: workers finish
// in any order within a tier, never across tiers.
func sortWithinTiers(creates []string) []string {
	out := slices.Clone(creates)
	resource := func(c string) string { return strings.SplitN(c, " ", 2)[0] }
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && resource(out[end]) == resource(out[start]) {
			end++
		}
		slices.Sort(out[start:end])
		start = end
	}
	return out
}

func TestRunWarnsOncePerUnservedResourceAndUnknownNames(t *testing.T) {
	var items []backedUp
	for i := range 3 {
		items = append(items, backedUp{"widgets.example.com", newObj("example.com/v1", "Widget", "a", fmt.Sprint("w", i), nil)})
	}
	items = append(items, configMap("a", "cm", nil))
	res := run(t, Options{
		Restore:    newRestore("r", arkv1.RestoreSpec{ExcludedResources: []string{"gadgetz"}}),
		Contents:   writeContents(t, items...),
		Discovery:  fakeDiscovery(t),
		Dynamic:    newFakeCluster(),
		Priorities: []string{"configmaps", "nosuchthing"},
	})
	wantPrefixes := []string{
		`resource priority "nosuchthing" is ignored: unknown resource "nosuchthing"`,
		`excluded resource "gadgetz" matches nothing in the cluster or the backup`,
		"resource widgets.example.com is not served by this cluster (its API group or CustomResourceDefinition is missing), so its 3 items in the backup were not restored",
	}
	if len(res.Warnings.Ark) != len(wantPrefixes) {
		t.Fatalf("ark warnings = %q, want %d", res.Warnings.Ark, len(wantPrefixes))
	}
	for i, w := range wantPrefixes {
		if !strings.HasPrefix(res.Warnings.Ark[i], w) {
			t.Errorf("warning %d = %q, want prefix %q", i, res.Warnings.Ark[i], w)
		}
	}
	if res.ItemsRestored != 1 || res.TotalItems != 4 {
		t.Errorf("restored %d of %d, want 1 of 4", res.ItemsRestored, res.TotalItems)
	}
}

func TestRunReportsCreateErrorsAndGoesOn(t *testing.T) {
	cluster := newFakeCluster()
	cluster.PrependReactor("create", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "creds", errors.New("quota exceeded"))
	})
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{NamespaceMapping: map[string]string{"app": "other"}}),
		Contents:  writeContents(t, appBackup()...),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
	})
	want := []string{`could not create Secret other/creds (backed up from namespace app): secrets "creds" is forbidden: quota exceeded`}
	if got := res.Errors.Namespaces["other"]; !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
	if res.ItemsRestored != 4 || res.TotalItems != 5 {
		t.Errorf("restored %d of %d, want 4 of 5", res.ItemsRestored, res.TotalItems)
	}
}

func TestRunSkipsItemsOfANamespaceThatCannotBeCreated(t *testing.T) {
	cluster := newFakeCluster()
	cluster.PrependReactor("create", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "app", errors.New("not allowed"))
	})
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{}),
		Contents:  writeContents(t, appBackup()...),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
	})
	errs := res.Errors.Namespaces["app"]
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "namespace app could not be created, so none of its items were restored") {
		t.Errorf("errors = %q, want one about the namespace", errs)
	}
	if got := cluster.creates(); len(got) != 1 {
		t.Errorf("creates = %q, want only the namespace attempt", got)
	}
}

func TestRunRefusesTerminatingNamespace(t *testing.T) {
	now := metav1.Now()
	terminating := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "app"}}}
	terminating.SetDeletionTimestamp(&now)
	cluster := newFakeCluster(terminating)
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{}),
		Contents:  writeContents(t, configMap("app", "c", nil)),
		Discovery: fakeDiscovery(t),
		Dynamic:   cluster,
	})
	errs := res.Errors.Namespaces["app"]
	if len(errs) != 1 || !strings.Contains(errs[0], "it is being deleted; wait until it is gone") {
		t.Errorf("errors = %q", errs)
	}
}

func TestRunRestoresVolumesFromSnapshots(t *testing.T) {
	pv := func(name string) backedUp {
		return backedUp{"persistentvolumes", newObj("v1", "PersistentVolume", "", name, map[string]any{"spec": map[string]any{
			"awsElasticBlockStore": map[string]any{"volumeID": "vol-old-" + name}}})}
	}
	backup := &arkv1.Backup{Status: arkv1.BackupStatus{VolumeBackups: map[string]*arkv1.VolumeBackupInfo{
		"pv1": {SnapshotID: "snap-1"}, "pv2": {SnapshotID: "snap-2"},
	}}}
	t.Run("restorePVs unset with a volume restorer", func(t *testing.T) {
		cluster, vols := newFakeCluster(), &fakeVolumes{}
		res := run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Backup: backup, Volumes: vols,
			Contents: writeContents(t, pv("pv1"), pv("pv2"), pv("pv3")), Discovery: fakeDiscovery(t), Dynamic: cluster})
		slices.Sort(vols.calls)
		if !reflect.DeepEqual(vols.calls, []string{"pv1<-snap-1", "pv2<-snap-2"}) {
			t.Errorf("RestoreVolume calls = %q", vols.calls)
		}
		got, _, _ := unstructured.NestedString(cluster.get(t, pvsGVR, "", "pv1").Object, "spec", "awsElasticBlockStore", "volumeID")
		if got != "vol-from-snap-1" {
			t.Errorf("pv1 volumeID = %q, want the restored volume", got)
		}
		if res.ItemsRestored != 3 {
			t.Errorf("restored %d, want 3", res.ItemsRestored)
		}
	})
	t.Run("restorePVs false", func(t *testing.T) {
		vols := &fakeVolumes{}
		run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{RestorePVs: boolPtr(false)}), Backup: backup, Volumes: vols,
			Contents: writeContents(t, pv("pv1")), Discovery: fakeDiscovery(t), Dynamic: newFakeCluster()})
		if len(vols.calls) != 0 {
			t.Errorf("RestoreVolume called: %q", vols.calls)
		}
	})
	t.Run("restore fails: the PV is not created", func(t *testing.T) {
		cluster := newFakeCluster()
		res := run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Backup: backup, Volumes: &fakeVolumes{err: errors.New("snapshot gone")},
			Contents: writeContents(t, pv("pv1")), Discovery: fakeDiscovery(t), Dynamic: cluster})
		want := []string{"could not create the volume of PersistentVolume pv1 from snapshot snap-1, so the PV was not restored: snapshot gone"}
		if !reflect.DeepEqual(res.Errors.Cluster, want) {
			t.Errorf("errors = %q, want %q", res.Errors.Cluster, want)
		}
		if len(cluster.creates()) != 0 {
			t.Errorf("created %q", cluster.creates())
		}
	})
	// A bug set off by one item is that item's error; the server (whose
	// other operations share the process) lives on, and so does the restore.
	t.Run("the volume restorer panics", func(t *testing.T) {
		cluster := newFakeCluster()
		res := run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Backup: backup, Volumes: &fakeVolumes{panic: true},
			Contents: writeContents(t, pv("pv1"), pv("pv3"), configMap("a", "c", nil)), Discovery: fakeDiscovery(t), Dynamic: cluster})
		if len(res.Errors.Cluster) != 1 || !strings.Contains(res.Errors.Cluster[0], "internal error") || !strings.Contains(res.Errors.Cluster[0], "nil map") {
			t.Errorf("errors = %q, want one naming the panic", res.Errors.Cluster)
		}
		if got := cluster.creates(); !slices.Contains(got, "persistentvolumes /pv3") || !slices.Contains(got, "configmaps a/c") || slices.Contains(got, "persistentvolumes /pv1") {
			t.Errorf("creates = %q, want pv3 and a/c, not pv1", got)
		}
	})
	t.Run("restorePVs true without a volume restorer", func(t *testing.T) {
		res := run(t, Options{Restore: newRestore("r", arkv1.RestoreSpec{RestorePVs: boolPtr(true)}), Backup: backup,
			Contents: writeContents(t, pv("pv1")), Discovery: fakeDiscovery(t), Dynamic: newFakeCluster()})
		if len(res.Warnings.Cluster) != 1 || !strings.Contains(res.Warnings.Cluster[0], "no volume snapshot provider is configured") {
			t.Errorf("warnings = %q", res.Warnings.Cluster)
		}
	})
}

// TestRunTiersAreStrictAndWorkersBounded checks that items of one resource
// are created concurrently by exactly Workers workers, and that no create of
// a tier starts before every create of the previous tier has returned.
func TestRunTiersAreStrictAndWorkersBounded(t *testing.T) {
	const workers = 4
	var items []backedUp
	for i := range 20 {
		items = append(items, configMap("a", fmt.Sprintf("cm%02d", i), nil))
		items = append(items, backedUp{"secrets", newObj("v1", "Secret", "a", fmt.Sprintf("s%02d", i), nil)})
	}
	var (
		mu                sync.Mutex
		inFlight, maxSeen int
		events            []string
		full              = make(chan struct{})
		fullOnce          sync.Once
		gateTimedOut      bool
	)
	before := func(gvr schema.GroupVersionResource, _ *unstructured.Unstructured) {
		if gvr.Resource == "namespaces" {
			return
		}
		mu.Lock()
		inFlight++
		maxSeen = max(maxSeen, inFlight)
		events = append(events, "start "+gvr.Resource)
		if inFlight == workers {
			fullOnce.Do(func() { close(full) })
		}
		mu.Unlock()
		// The first creates wait until all workers are busy at once, which
		// proves the pool runs them in parallel.
		select {
		case <-full:
		case <-time.After(30 * time.Second):
			mu.Lock()
			gateTimedOut = true
			mu.Unlock()
		}
	}
	after := func(gvr schema.GroupVersionResource, _ *unstructured.Unstructured) {
		if gvr.Resource == "namespaces" {
			return
		}
		mu.Lock()
		inFlight--
		events = append(events, "end "+gvr.Resource)
		mu.Unlock()
	}
	cluster := newFakeCluster()
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{}),
		Contents:  writeContents(t, items...),
		Discovery: fakeDiscovery(t),
		Dynamic:   hookedDynamic{cluster, before, after},
		Workers:   workers,
	})
	if res.ItemsRestored != 40 {
		t.Fatalf("restored %d, want 40: %+v", res.ItemsRestored, res.Errors)
	}
	if gateTimedOut || maxSeen != workers {
		t.Errorf("at most %d creates ran at once (gate timed out: %v), want exactly %d", maxSeen, gateTimedOut, workers)
	}
	// secrets come before configmaps in DefaultPriorities.
	firstConfigMap := slices.Index(events, "start configmaps")
	if firstConfigMap < 0 {
		t.Fatalf("no configmap was created: %q", events)
	}
	secretEnds := 0
	for i, e := range events {
		if strings.HasSuffix(e, " secrets") && i > firstConfigMap {
			t.Fatalf("a secret create ran after the first configmap create started: %q", events)
		}
		if e == "end secrets" {
			secretEnds++
		}
	}
	if secretEnds != 20 {
		t.Errorf("%d secret creates ended, want 20", secretEnds)
	}
}

func TestRunCRDTimesOutWithWarning(t *testing.T) {
	old := crdReadyTimeout
	crdReadyTimeout = 300 * time.Millisecond
	t.Cleanup(func() { crdReadyTimeout = old })

	crd := backedUp{"customresourcedefinitions.apiextensions.k8s.io", newObj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com",
		map[string]any{"spec": map[string]any{"group": "example.com", "names": map[string]any{"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced"}})}
	widget := backedUp{"widgets.example.com", newObj("example.com/v1", "Widget", "a", "w1", nil)}
	// The fake never sets conditions, so the CRD never becomes Established.
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{}),
		Contents:  writeContents(t, crd, widget),
		Discovery: fakeDiscovery(t),
		Dynamic:   newFakeCluster(),
	})
	if len(res.Warnings.Cluster) != 1 || !strings.HasPrefix(res.Warnings.Cluster[0], "CustomResourceDefinition widgets.example.com was not Established within 300ms") {
		t.Errorf("cluster warnings = %q", res.Warnings.Cluster)
	}
	if len(res.Warnings.Ark) != 1 || !strings.HasPrefix(res.Warnings.Ark[0], "resource widgets.example.com is not served") {
		t.Errorf("ark warnings = %q", res.Warnings.Ark)
	}
	if res.ItemsRestored != 1 {
		t.Errorf("restored %d, want the CRD", res.ItemsRestored)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	contents := writeContents(t, configMap("a", "c", nil))
	good := Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Contents: contents, Discovery: fakeDiscovery(t), Dynamic: newFakeCluster()}
	cases := []struct {
		name   string
		modify func(*Options)
		want   string
	}{
		{"no contents", func(o *Options) { o.Contents = nil }, "Options.[Contents] must be set"},
		{"no restore or client", func(o *Options) { o.Restore = nil; o.Dynamic = nil }, "Options.[Restore Dynamic] must be set"},
		{"bad selector", func(o *Options) {
			o.Restore = newRestore("r", arkv1.RestoreSpec{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "not valid!"}}})
		}, "restore r: spec.labelSelector is invalid"},
		{"bad mapping", func(o *Options) {
			o.Restore = newRestore("r", arkv1.RestoreSpec{NamespaceMapping: map[string]string{"a": "Not_A_Namespace"}})
		}, `restore r: namespace mapping a:Not_A_Namespace: "Not_A_Namespace" is not a valid namespace name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := good
			c.modify(&opts)
			_, err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Options{Restore: newRestore("r", arkv1.RestoreSpec{}), Contents: writeContents(t, configMap("a", "c", nil)),
		Discovery: fakeDiscovery(t), Dynamic: newFakeCluster()})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if res.ItemsRestored != 0 {
		t.Errorf("restored %d after cancel", res.ItemsRestored)
	}
}
