package restore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/internal/restoreplan"
)

// planRecorder keeps the items of a dry run for a test.
type planRecorder struct {
	mu    sync.Mutex
	items map[string]restoreplan.Item // "<resource> <ns>/<name>"
}

func (p *planRecorder) Record(it restoreplan.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.items == nil {
		p.items = map[string]restoreplan.Item{}
	}
	p.items[it.Resource+" "+it.Namespace+"/"+it.Name] = it
}

// resourceVersions lists every object of every resource the cluster serves
// (but leases and events, which its controllers write on their own) with its
// resourceVersion.
func resourceVersions(t *testing.T, c *liveCluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range c.discovery(t).Resources() {
		gr := r.GroupResource().String()
		if gr == "leases.coordination.k8s.io" || gr == "events" || gr == "events.events.k8s.io" {
			continue
		}
		list, err := c.dynamic.Resource(r.GVR).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing %s: %v", gr, err)
		}
		for _, o := range list.Items {
			out[gr+" "+o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
		}
	}
	return out
}

// A dry run into a cluster where some objects exist (identical, and
// edited), a namespace has a ResourceQuota the restore would exceed (one
// full already, one that each item alone passes), a namespace is missing
// and a custom resource's CRD is missing: the plan says each, and nothing in
// the cluster is created or changed.
func TestIntegrationDryRun(t *testing.T) {
	lc := localcluster.StartForTest(t, localcluster.Options{Controllers: append(slices.Clone(localcluster.DefaultControllers), "resourcequota-controller")})
	cfg := rest.CopyConfig(lc.RESTConfig())
	cfg.QPS, cfg.Burst = 1000, 2000
	c := &liveCluster{config: cfg, kube: kubernetes.NewForConfigOrDie(cfg), dynamic: dynamic.NewForConfigOrDie(cfg)}
	ctx := context.Background()

	for _, ns := range []string{"dr-app", "dr-full"} {
		must[*corev1.Namespace](t)(c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	}
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-app", Name: "same"}, Data: map[string]string{"k": "v"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-app", Name: "edited"}, Data: map[string]string{"k": "changed"}},
	} {
		must[*corev1.ConfigMap](t)(c.kube.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}))
	}
	// dr-app: kube-root-ca.crt, same and edited use 3 of 4; the backup's
	// new-1 and new-2 each pass alone, not together. dr-full: its
	// kube-root-ca.crt uses the only one.
	quota := func(ns string, hard int64) {
		q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cms"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/configmaps": *resource.NewQuantity(hard, resource.DecimalSI)}}}
		must[*corev1.ResourceQuota](t)(c.kube.CoreV1().ResourceQuotas(ns).Create(ctx, q, metav1.CreateOptions{}))
	}
	// The controller-manager publishes kube-root-ca.crt in each namespace;
	// a quota made before it is there can be counted without it and stay
	// so until the quota controller's next full resync (minutes).
	for _, ns := range []string{"dr-app", "dr-full"} {
		waitUntil(t, "kube-root-ca.crt is published in "+ns, func() (bool, error) {
			_, err := c.kube.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		})
	}
	quota("dr-app", 4)
	quota("dr-full", 1)
	for ns, used := range map[string]string{"dr-app": "3", "dr-full": "1"} {
		waitUntil(t, "the quota of "+ns+" is counted", func() (bool, error) {
			q, err := c.kube.CoreV1().ResourceQuotas(ns).Get(ctx, "cms", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			u := q.Status.Used["count/configmaps"]
			return u.String() == used, nil
		})
	}

	liveNamespace := func(name string) backedUp {
		ns := must[*unstructured.Unstructured](t)(c.dynamic.Resource(namespacesGVR).Get(ctx, name, metav1.GetOptions{}))
		return backedUp{"namespaces", ns.Object}
	}
	contents := writeContents(t, liveNamespace("dr-app"), liveNamespace("dr-full"),
		backedUp{"namespaces", newObj("v1", "Namespace", "", "dr-missing", map[string]any{"labels": map[string]any{"team": "a"}})},
		configMap("dr-app", "same", map[string]any{"k": "v"}),
		configMap("dr-app", "edited", map[string]any{"k": "v"}),
		configMap("dr-app", "new-1", map[string]any{"k": "v"}),
		configMap("dr-app", "new-2", map[string]any{"k": "v"}),
		configMap("dr-full", "blocked", map[string]any{"k": "v"}),
		configMap("dr-missing", "inside", map[string]any{"k": "v"}),
		backedUp{"secrets", newObj("v1", "Secret", "dr-app", "bad", map[string]any{"type": "kubernetes.io/tls", "data": map[string]any{}})},
		widgetCRD(), widget("dr-app", "w1", 3),
	)
	before := resourceVersions(t, c)

	plan := &planRecorder{}
	res, err := Run(ctx, Options{Restore: newRestore("preview", arkv1.RestoreSpec{DryRun: true}), Contents: contents,
		Discovery: c.discovery(t), Dynamic: c.dynamic, DryRun: true, Plan: plan})
	if err != nil {
		t.Fatal(err)
	}

	wants := map[string]restoreplan.Outcome{
		"namespaces /dr-app":           "Identical",
		"namespaces /dr-full":          "Identical",
		"namespaces /dr-missing":       "WouldCreate",
		"configmaps dr-app/same":       "Identical",
		"configmaps dr-app/edited":     "Differs",
		"configmaps dr-full/blocked":   "WouldFail",
		"configmaps dr-missing/inside": "NotChecked",
		"secrets dr-app/bad":           "WouldFail",
		"customresourcedefinitions.apiextensions.k8s.io /widgets.ark-test.io": "WouldCreate",
		"widgets.ark-test.io dr-app/w1":                                       "NotChecked",
	}
	reasons := map[string]string{
		"configmaps dr-app/edited":      "differs from the backup in data.k",
		"configmaps dr-full/blocked":    "exceeded quota: cms",
		"configmaps dr-missing/inside":  "namespace dr-missing does not exist yet",
		"secrets dr-app/bad":            "tls.crt",
		"widgets.ark-test.io dr-app/w1": "its CustomResourceDefinition widgets.ark-test.io is not in the cluster",
	}
	for key, outcome := range wants {
		it, ok := plan.items[key]
		if !ok {
			t.Errorf("%s: not in the plan", key)
			continue
		}
		if it.Outcome != outcome {
			t.Errorf("%s: %s (%s), want %s", key, it.Outcome, it.Reason, outcome)
		}
		if r := reasons[key]; r != "" && !strings.Contains(it.Reason, r) {
			t.Errorf("%s: reason %q lacks %q", key, it.Reason, r)
		}
	}
	// Of new-1 and new-2, one fits the quota and the other does not.
	n1, n2 := plan.items["configmaps dr-app/new-1"], plan.items["configmaps dr-app/new-2"]
	outcomes := []string{string(n1.Outcome), string(n2.Outcome)}
	slices.Sort(outcomes)
	if strings.Join(outcomes, ",") != "WouldCreate,WouldFail" {
		t.Errorf("new-1 %s (%s), new-2 %s (%s): want one to fit the quota", n1.Outcome, n1.Reason, n2.Outcome, n2.Reason)
	}
	for _, it := range []restoreplan.Item{n1, n2} {
		if it.Outcome == restoreplan.WouldFail && !strings.Contains(it.Reason, "ResourceQuota cms of namespace dr-app: count/configmaps is limited to 4, 3 are used, and this restore would already have created 1") {
			t.Errorf("quota reason: %s", it.Reason)
		}
	}
	if len(plan.items) != len(wants)+2 {
		t.Errorf("the plan has %d items, want %d", len(plan.items), len(wants)+2)
	}
	if p := res.Plan; p == nil || p.Counts != (arkv1.RestorePlanSummary{WouldCreate: 3, Identical: 3, Differs: 1, WouldFail: 3, NotChecked: 2}) {
		t.Errorf("summary %+v", res.Plan)
	} else if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "CustomResourceDefinition widgets.ark-test.io would be created first")
	}) {
		t.Errorf("notes %v", p.Notes)
	}
	if res.ItemsRestored != 0 {
		t.Errorf("a dry run restored %d items", res.ItemsRestored)
	}

	after := resourceVersions(t, c)
	for k, rv := range before {
		if after[k] != rv {
			t.Errorf("%s changed: resourceVersion %s -> %q", k, rv, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s was created by a dry run", k)
		}
	}
	if _, err := c.dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).
		Get(ctx, "widgets.ark-test.io", metav1.GetOptions{}); err == nil {
		t.Error("the dry run created the CRD")
	}
	t.Logf("%d objects unchanged", len(before))
}
