package restore

// Integration tests against a real kube-apiserver (internal/localcluster).
// They need the binaries built by hack/build-testbin.sh, found through
// $ARK_TESTBIN_DIR; without it they are skipped. Run them with
//
//	make test
//	ARK_TESTBIN_DIR=$(hack/build-testbin.sh) go test ./internal/restore/ -run Integration -v

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/localcluster"
)

type liveCluster struct {
	config  *rest.Config
	kube    kubernetes.Interface
	dynamic dynamic.Interface
}

func startLiveCluster(t testing.TB) *liveCluster {
	t.Helper()
	c := localcluster.StartForTest(t, localcluster.Options{})
	cfg := rest.CopyConfig(c.RESTConfig())
	// The restore's worker pool, not client-go's default 5 QPS, should be
	// the bound on a local apiserver.
	cfg.QPS, cfg.Burst = 1000, 2000
	return &liveCluster{
		config:  cfg,
		kube:    kubernetes.NewForConfigOrDie(cfg),
		dynamic: dynamic.NewForConfigOrDie(cfg),
	}
}

// discovery is made fresh for each restore, as the server does.
func (c *liveCluster) discovery(t testing.TB) *kube.Discovery {
	t.Helper()
	d, err := kube.NewDiscovery(discovery.NewDiscoveryClientForConfigOrDie(c.config))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (c *liveCluster) restore(t testing.TB, contents *archive.Contents, name string, spec arkv1.RestoreSpec) Result {
	t.Helper()
	res, err := Run(context.Background(), Options{
		Restore:   newRestore(name, spec),
		Contents:  contents,
		Discovery: c.discovery(t),
		Dynamic:   c.dynamic,
	})
	if err != nil {
		t.Fatalf("restore %s: %v", name, err)
	}
	return res
}

// backedUpResources is what backupNamespaces copies from the live cluster.
var backedUpResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Version: "v1", Resource: "pods"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
}

// backupNamespaces writes the live objects of the namespaces, exactly as the
// API server returns them (uids, resourceVersions, status, allocated IPs),
// into a real archive and extracts it.
func (c *liveCluster) backupNamespaces(t testing.TB, namespaces ...string) *archive.Contents {
	t.Helper()
	return c.backupResources(t, backedUpResources, namespaces...)
}

// backupResources is backupNamespaces with the resources to copy.
func (c *liveCluster) backupResources(t testing.TB, resources []schema.GroupVersionResource, namespaces ...string) *archive.Contents {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	w, err := archive.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	add := func(key string, obj *unstructured.Unstructured) {
		data, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Add(archive.Item{Resource: key, Namespace: obj.GetNamespace(), Name: obj.GetName()}, data); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range namespaces {
		nsObj, err := c.dynamic.Resource(namespacesGVR).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		add(namespacesKey, nsObj)
		for _, gvr := range resources {
			list, err := c.dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range list.Items {
				add(gvr.GroupResource().String(), &list.Items[i])
			}
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

func (c *liveCluster) deleteNamespaces(t testing.TB, namespaces ...string) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range namespaces {
		// A pod bound to a node waits for its kubelet to confirm the
		// deletion, and there is no kubelet here.
		zero := int64(0)
		if err := c.kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range namespaces {
		waitUntil(t, "namespace "+ns+" is gone", func() (bool, error) {
			_, err := c.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
	}
}

func waitUntil(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting until %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// makeShop creates a namespace with what a typical application has: config,
// a secret, services (NodePort and headless), a deployment with a replicaset
// and a pod it controls, a bare pod scheduled on a node, and a job.
func (c *liveCluster) makeShop(t testing.TB, ns string) {
	t.Helper()
	ctx := context.Background()
	k := c.kube
	must[*corev1.Namespace](t)(k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"team": "shop"}, Annotations: map[string]string{"owner": "alice"}}}, metav1.CreateOptions{}))
	// Pods need the namespace's default ServiceAccount (admission).
	waitUntil(t, "serviceaccount default in "+ns, func() (bool, error) {
		_, err := k.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, client404(err)
	})
	labels := map[string]string{"app": "web"}
	must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Labels: labels}, Data: map[string]string{"color": "blue"}}, metav1.CreateOptions{}))
	must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "flags"}, Data: map[string]string{"beta": "on"}}, metav1.CreateOptions{}))
	must[*corev1.Secret](t)(k.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "s3cret"}}, metav1.CreateOptions{}))
	must[*corev1.Service](t)(k.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{}))
	must[*corev1.Service](t)(k.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-headless"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: labels,
			Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}))

	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}
	replicas := int32(1)
	dep := must[*appsv1.Deployment](t)(k.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec}}}, metav1.CreateOptions{}))
	// No deployment controller runs here; make what it would have made.
	yes := true
	rsLabels := map[string]string{"app": "web", "pod-template-hash": "abc123"}
	rs := must[*appsv1.ReplicaSet](t)(k.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc123", Labels: rsLabels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID, Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: rsLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rsLabels}, Spec: podSpec}}}, metav1.CreateOptions{}))
	must[*corev1.Pod](t)(k.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc123-xyz", Labels: rsLabels, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: podSpec}, metav1.CreateOptions{}))
	bare := podSpec
	bare.NodeName = "node-that-is-gone"
	must[*corev1.Pod](t)(k.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "debug"}, Spec: bare}, metav1.CreateOptions{}))

	must[*batchv1.Job](t)(k.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "m", Image: "busybox"}}}}}}, metav1.CreateOptions{}))
}

func client404(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// shopItems is what a restore of the shop creates: everything but the
// replicaset and pod the deployment controls. kube-root-ca.crt and the
// default ServiceAccount are re-created by the cluster's controllers, so
// whether the restore or the controller gets there first varies.
var shopItems = []string{
	"configmaps/flags", "configmaps/settings", "secrets/db", "services/web", "services/web-headless",
	"deployments.apps/web", "pods/debug", "jobs.batch/migrate",
}

var racingWithControllers = []string{"configmaps/kube-root-ca.crt", "serviceaccounts/default"}

// checkNoErrors fails on any error, and on any warning but "already exists"
// for the objects that controllers create in every namespace.
func checkNoErrors(t *testing.T, res Result) {
	t.Helper()
	if len(res.Errors.Ark)+len(res.Errors.Cluster)+len(res.Errors.Namespaces) > 0 {
		t.Errorf("errors: %+v", res.Errors)
	}
	if len(res.Warnings.Ark)+len(res.Warnings.Cluster) > 0 {
		t.Errorf("warnings: %+v", res.Warnings)
	}
	for ns, ws := range res.Warnings.Namespaces {
		for _, w := range ws {
			racing := strings.HasPrefix(w, "ConfigMap "+ns+"/kube-root-ca.crt ") || strings.HasPrefix(w, "ServiceAccount "+ns+"/default ")
			if !racing || !strings.HasSuffix(w, " already exists, left as it is (never overwritten)") {
				t.Errorf("unexpected warning in %s: %s", ns, w)
			}
		}
	}
}

func (c *liveCluster) getObj(t *testing.T, resource, ns, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	d := c.discovery(t)
	r, ok := d.ForGroupResource(schema.ParseGroupResource(resource))
	if !ok {
		t.Fatalf("cluster does not serve %s", resource)
	}
	return c.dynamic.Resource(r.GVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func TestIntegrationRestore(t *testing.T) {
	c := startLiveCluster(t)
	ctx := context.Background()

	c.makeShop(t, "shop")
	must[*corev1.Namespace](t)(c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "blog"}}, metav1.CreateOptions{}))
	must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("blog").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "posts"}}, metav1.CreateOptions{}))
	origWeb := must[*corev1.Service](t)(c.kube.CoreV1().Services("shop").Get(ctx, "web", metav1.GetOptions{}))
	origDebug := must[*corev1.Pod](t)(c.kube.CoreV1().Pods("shop").Get(ctx, "debug", metav1.GetOptions{}))
	backup := c.backupNamespaces(t, "shop", "blog")
	c.deleteNamespaces(t, "shop", "blog")

	t.Run("basic restore into an emptied cluster", func(t *testing.T) {
		res := c.restore(t, backup, "basic", arkv1.RestoreSpec{ExcludedNamespaces: []string{"blog"}})
		checkNoErrors(t, res)
		for _, item := range shopItems {
			resource, name, _ := strings.Cut(item, "/")
			obj, err := c.getObj(t, resource, "shop", name)
			if err != nil {
				t.Errorf("%s not restored: %v", item, err)
				continue
			}
			if obj.GetLabels()[RestoreLabel] != "basic" {
				t.Errorf("%s has labels %v, want ark-restore=basic", item, obj.GetLabels())
			}
		}
		for _, item := range []string{"replicasets.apps/web-abc123", "pods/web-abc123-xyz"} {
			resource, name, _ := strings.Cut(item, "/")
			if _, err := c.getObj(t, resource, "shop", name); !apierrors.IsNotFound(err) {
				t.Errorf("%s is controlled by its owner and must not be restored; get: %v", item, err)
			}
		}
		if _, err := c.kube.CoreV1().Namespaces().Get(ctx, "blog", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("excluded namespace blog was created: %v", err)
		}
		ns := must[*corev1.Namespace](t)(c.kube.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}))
		if ns.Labels["team"] != "shop" || ns.Annotations["owner"] != "alice" {
			t.Errorf("namespace not made from the backed-up one: labels %v annotations %v", ns.Labels, ns.Annotations)
		}
		cm := must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{}))
		if cm.Data["color"] != "blue" {
			t.Errorf("configmap data = %v", cm.Data)
		}
		secret := must[*corev1.Secret](t)(c.kube.CoreV1().Secrets("shop").Get(ctx, "db", metav1.GetOptions{}))
		if string(secret.Data["password"]) != "s3cret" {
			t.Errorf("secret data = %v", secret.Data)
		}
		pod := must[*corev1.Pod](t)(c.kube.CoreV1().Pods("shop").Get(ctx, "debug", metav1.GetOptions{}))
		if pod.Spec.NodeName != "" {
			t.Errorf("pod kept nodeName %q", pod.Spec.NodeName)
		}
		if tokenVolumes(pod) != 1 || tokenVolumes(origDebug) != 1 {
			t.Errorf("token volumes: backed up %d, restored %d; want 1 each (the old one dropped, admission adds a new one)", tokenVolumes(origDebug), tokenVolumes(pod))
		}
		job := must[*batchv1.Job](t)(c.kube.BatchV1().Jobs("shop").Get(ctx, "migrate", metav1.GetOptions{}))
		if job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != string(job.UID) {
			t.Errorf("job selector %v does not select the new job's uid %s", job.Spec.Selector.MatchLabels, job.UID)
		}
		if res.TotalItems != len(shopItems)+len(racingWithControllers) {
			t.Errorf("total items = %d, want %d", res.TotalItems, len(shopItems)+len(racingWithControllers))
		}
		if res.ItemsRestored < len(shopItems) {
			t.Errorf("restored %d items, want at least %d", res.ItemsRestored, len(shopItems))
		}
	})

	t.Run("namespace mapping with resource filter", func(t *testing.T) {
		// shop is live again: a copy next to it must get its own cluster IP
		// and node port, or the API server refuses the service.
		res := c.restore(t, backup, "copy", arkv1.RestoreSpec{
			NamespaceMapping:  map[string]string{"shop": "shop-copy", "blog": "blog-copy"},
			IncludedResources: []string{"cm", "services"},
		})
		checkNoErrors(t, res)
		for _, item := range []string{"configmaps/settings", "configmaps/flags", "services/web", "services/web-headless"} {
			resource, name, _ := strings.Cut(item, "/")
			if _, err := c.getObj(t, resource, "shop-copy", name); err != nil {
				t.Errorf("%s not restored into shop-copy: %v", item, err)
			}
		}
		if _, err := c.getObj(t, "configmaps", "blog-copy", "posts"); err != nil {
			t.Errorf("blog's configmap not restored into blog-copy: %v", err)
		}
		for _, item := range []string{"secrets/db", "deployments.apps/web", "pods/debug", "jobs.batch/migrate"} {
			resource, name, _ := strings.Cut(item, "/")
			if _, err := c.getObj(t, resource, "shop-copy", name); !apierrors.IsNotFound(err) {
				t.Errorf("%s is not an included resource but was restored: %v", item, err)
			}
		}
		web := must[*corev1.Service](t)(c.kube.CoreV1().Services("shop-copy").Get(ctx, "web", metav1.GetOptions{}))
		if web.Spec.ClusterIP == "" || web.Spec.ClusterIP == origWeb.Spec.ClusterIP {
			t.Errorf("copy's clusterIP %q, original %q: want a new one", web.Spec.ClusterIP, origWeb.Spec.ClusterIP)
		}
		if web.Spec.Ports[0].NodePort == 0 {
			t.Errorf("copy's node port not allocated")
		}
		headless := must[*corev1.Service](t)(c.kube.CoreV1().Services("shop-copy").Get(ctx, "web-headless", metav1.GetOptions{}))
		if headless.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("headless service got clusterIP %q", headless.Spec.ClusterIP)
		}
	})

	t.Run("existing objects are left as they are", func(t *testing.T) {
		cm := must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{}))
		cm.Data["color"] = "red"
		must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{}))
		if err := c.kube.CoreV1().ConfigMaps("shop").Delete(ctx, "flags", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		res := c.restore(t, backup, "again", arkv1.RestoreSpec{IncludedNamespaces: []string{"shop"}})
		if len(res.Errors.Namespaces)+len(res.Errors.Cluster) > 0 {
			t.Fatalf("errors: %+v", res.Errors)
		}
		if res.ItemsRestored != 1 {
			t.Errorf("restored %d items, want only the deleted configmap", res.ItemsRestored)
		}
		warnings := res.Warnings.Namespaces["shop"]
		for _, want := range []string{
			"ConfigMap shop/settings already exists, left as it is (never overwritten)",
			"Deployment shop/web already exists, left as it is (never overwritten)",
			"Service shop/web already exists, left as it is (never overwritten)",
		} {
			if !slices.Contains(warnings, want) {
				t.Errorf("warnings %q lack %q", warnings, want)
			}
		}
		if len(warnings) != len(shopItems)+len(racingWithControllers)-1 {
			t.Errorf("%d warnings, want one per existing item: %q", len(warnings), warnings)
		}
		cm = must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("shop").Get(ctx, "settings", metav1.GetOptions{}))
		if cm.Data["color"] != "red" || cm.Labels[RestoreLabel] != "basic" {
			t.Errorf("existing configmap was changed: data %v labels %v", cm.Data, cm.Labels)
		}
		flags := must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps("shop").Get(ctx, "flags", metav1.GetOptions{}))
		if flags.Labels[RestoreLabel] != "again" {
			t.Errorf("deleted configmap not restored by this restore: labels %v", flags.Labels)
		}
	})

	t.Run("CRD and custom resources into a cluster without the CRD", func(t *testing.T) {
		contents := writeContents(t, widgetCRD(), widget("lab", "w1", 3), widget("lab", "w2", 5),
			backedUp{"namespaces", newObj("v1", "Namespace", "", "lab", map[string]any{"labels": map[string]any{"env": "lab"}})})
		res := c.restore(t, contents, "crds", arkv1.RestoreSpec{})
		checkNoErrors(t, res)
		if res.ItemsRestored != 3 || res.TotalItems != 3 {
			t.Errorf("restored %d of %d, want 3 of 3", res.ItemsRestored, res.TotalItems)
		}
		w := c.dynamic.Resource(schema.GroupVersionResource{Group: "ark-test.io", Version: "v1", Resource: "widgets"})
		got := must[*unstructured.Unstructured](t)(w.Namespace("lab").Get(ctx, "w2", metav1.GetOptions{}))
		if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 5 {
			t.Errorf("widget w2 spec.size = %d, want 5", size)
		}
	})
}

func tokenVolumes(pod *corev1.Pod) int {
	n := 0
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			n++
		}
	}
	return n
}

func widgetCRD() backedUp {
	schemaProps := map[string]any{"type": "object", "properties": map[string]any{
		"spec": map[string]any{"type": "object", "properties": map[string]any{"size": map[string]any{"type": "integer"}}},
	}}
	return backedUp{crdsKey, newObj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.ark-test.io", map[string]any{
		"spec": map[string]any{
			"group": "ark-test.io",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": schemaProps},
			}},
		},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Established", "status": "True"}}},
	})}
}

func widget(ns, name string, size int64) backedUp {
	return backedUp{"widgets.ark-test.io", newObj("ark-test.io/v1", "Widget", ns, name, map[string]any{"spec": map[string]any{"size": size}})}
}
