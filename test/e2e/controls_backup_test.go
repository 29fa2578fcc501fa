package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// controlsWidgetCRD serves widgets.bc.example.com in the versions given
// (the first is the storage version); without a conversion webhook the
// versions differ only in apiVersion.
func controlsWidgetCRD(versions ...string) string {
	m := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.bc.example.com}
spec:
  group: bc.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:`
	for i, v := range versions {
		m += `
  - name: ` + v + `
    served: true
    storage: ` + map[bool]string{true: "true", false: "false"}[i == 0] + `
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}`
	}
	return m + "\n"
}

// TestBackupControls: --or-selector backs up what matches any term; the
// exclusion label keeps an object out (even one a pod pulls in) and the
// backup counts it; custom resources bring their CRD although cluster
// resources are excluded; --include-all-api-versions writes version
// directories, and a restore into a cluster that serves only the other
// version uses its directory; an unset --ttl is the server's
// --default-backup-ttl, then the Config's defaultBackupTTL.
func TestBackupControls(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{ServerArgs: []string{"--default-backup-ttl", "48h"}})
	ctx := context.Background()
	env.EnsureNamespace("bc-app")
	restoreApply(t, env, controlsWidgetCRD("v1", "v2"))
	env.Eventually(time.Minute, "widgets served in v1 and v2", func() (bool, error) {
		r := env.Kubectl("get", "widgets.v2.bc.example.com", "-n", "bc-app")
		return r.Err == nil, nil
	})
	restoreApply(t, env, `
apiVersion: bc.example.com/v1
kind: Widget
metadata: {name: w1, namespace: bc-app, labels: {tier: web}}
spec: {size: 3}
`)
	excluded := map[string]string{arkv1.ExcludeFromBackupLabel: "true"}
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "web", Labels: map[string]string{"tier": "web"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "db", Labels: map[string]string{"tier": "db"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "cache", Labels: map[string]string{"tier": "cache"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "secret-ish", Labels: map[string]string{"tier": "web", arkv1.ExcludeFromBackupLabel: "true"}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "scratch", Labels: excluded},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	env.Eventually(2*time.Minute, "the default service account of bc-app", func() (bool, error) {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: "bc-app", Name: "default"}, &corev1.ServiceAccount{}) == nil, nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "bc-app", Name: "app", Labels: map[string]string{"tier": "db"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "scratch"}}}}}}
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}

	// --or-selector: web or db, once each; the excluded web one stays out
	// and is counted; the pod's excluded claim is not pulled in.
	mustBackup(t, env, "bc-or", "--include-namespaces", "bc-app", "--or-selector", "tier=web or tier=db")
	entries := tarEntries(t, restoreDownload(t, env, "bc-or"))
	var items []string
	for name := range entries {
		if strings.HasPrefix(name, "resources/") {
			items = append(items, name)
		}
	}
	want := []string{
		"resources/configmaps/namespaces/bc-app/db.json",
		"resources/configmaps/namespaces/bc-app/web.json",
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.bc.example.com.json",
		"resources/namespaces/cluster/bc-app.json",
		"resources/pods/namespaces/bc-app/app.json",
		"resources/widgets.bc.example.com/namespaces/bc-app/w1.json",
	}
	if got := strings.Join(sortedStrings(items), "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("bc-or archive items:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	b, err := getBackup(env, "bc-or")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Spec.OrLabelSelectors) != 2 || b.Spec.LabelSelector != nil {
		t.Errorf("bc-or spec selectors: %+v / %+v", b.Spec.LabelSelector, b.Spec.OrLabelSelectors)
	}
	if b.Status.ExcludedItems["configmaps"] != 1 || b.Status.ExcludedItems["persistentvolumeclaims"] != 1 || len(b.Status.ExcludedItems) != 2 {
		t.Errorf("bc-or excluded counts %v, want configmaps 1 and persistentvolumeclaims 1", b.Status.ExcludedItems)
	}
	// An unset --ttl is the server's --default-backup-ttl.
	if b.Spec.TTL.Duration != 0 || b.Status.Expiration == nil || b.Status.StartTimestamp == nil ||
		b.Status.Expiration.Sub(b.Status.StartTimestamp.Time).Round(time.Minute) != 48*time.Hour {
		t.Errorf("bc-or: ttl %s, started %v, expires %v: want an expiration 48h after the start", b.Spec.TTL.Duration, b.Status.StartTimestamp, b.Status.Expiration)
	}
	d := env.MustArk("backup", "describe", "bc-or")
	for _, w := range []string{"tier=web or tier=db", "All API versions:  false", "persistentvolumeclaims"} {
		if !strings.Contains(d, w) {
			t.Errorf("backup describe lacks %q:\n%s", w, d)
		}
	}
	if r := env.Ark("backup", "create", "bad", "--selector", "a=b", "--or-selector", "c=d"); r.Err == nil || !strings.Contains(r.Output(), "cannot be used together") {
		t.Errorf("--selector with --or-selector: err %v\n%s", r.Err, r.Output())
	}

	// --include-all-api-versions, cluster resources excluded: the CRD comes
	// along, the widget is in both version directories. The Config's
	// defaultBackupTTL now wins over the server's flag.
	cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, env.Bucket)
	cfg.DefaultBackupTTL = metav1.Duration{Duration: 6 * time.Hour}
	env.ApplyConfig(cfg)
	time.Sleep(2 * time.Second) // the server reads the Config per backup; give the informer a moment
	mustBackup(t, env, "bc-versions", "--include-namespaces", "bc-app", "--include-resources", "widgets.bc.example.com,configmaps",
		"--include-cluster-resources=false", "--include-all-api-versions")
	entries = tarEntries(t, restoreDownload(t, env, "bc-versions"))
	for _, p := range []string{
		"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.bc.example.com.json",
		"resources/widgets.bc.example.com/namespaces/bc-app/w1.json",
		"resources/widgets.bc.example.com/v2-preferredversion/namespaces/bc-app/w1.json",
		"resources/widgets.bc.example.com/v1/namespaces/bc-app/w1.json",
	} {
		if entries[p] == nil {
			t.Errorf("bc-versions lacks %s", p)
		}
	}
	if !strings.Contains(string(entries["resources/widgets.bc.example.com/v1/namespaces/bc-app/w1.json"]), `"apiVersion":"bc.example.com/v1"`) ||
		!strings.Contains(string(entries["resources/widgets.bc.example.com/v2-preferredversion/namespaces/bc-app/w1.json"]), `"apiVersion":"bc.example.com/v2"`) {
		t.Errorf("version directories do not hold their versions")
	}
	for name := range entries {
		if strings.Contains(name, "/configmaps/v1") {
			t.Errorf("a resource served in one version got a version directory: %s", name)
		}
	}
	if b, err = getBackup(env, "bc-versions"); err != nil {
		t.Fatal(err)
	}
	if b.Status.Expiration == nil || b.Status.Expiration.Sub(b.Status.StartTimestamp.Time).Round(time.Minute) != 6*time.Hour {
		t.Errorf("bc-versions: started %v, expires %v: want the Config's 6h", b.Status.StartTimestamp, b.Status.Expiration)
	}
	if d := env.MustArk("backup", "describe", "bc-versions"); !strings.Contains(d, "All API versions:  true") {
		t.Errorf("backup describe lacks the all-versions setting:\n%s", d)
	}

	// The target cluster now serves widgets in v1 only: the restore reads
	// the v1 directory (the preferred v2 is not served).
	// (Restored into another namespace: bc-app cannot be deleted here, its
	// claim keeps the pvc-protection finalizer, whose controller this local
	// cluster does not run.)
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "widgets.bc.example.com"}}
	if err := env.Client.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "the widgets CRD gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd)
		return err != nil, nil
	})
	restoreApply(t, env, controlsWidgetCRD("v1"))
	env.Eventually(time.Minute, "widgets served in v1", func() (bool, error) {
		return env.Kubectl("get", "widgets.v1.bc.example.com", "-A").Err == nil, nil
	})
	// Only the widgets: the CRD is there, and the namespace's kube-root-ca.crt
	// would race the root CA publisher.
	restoreMustComplete(t, env, "bc-versions-restore", "bc-versions", 0, "--include-resources", "widgets.bc.example.com",
		"--namespace-mappings", "bc-app:bc-restored")
	w := &unstructured.Unstructured{}
	w.SetGroupVersionKind(schema.GroupVersionKind{Group: "bc.example.com", Version: "v1", Kind: "Widget"})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "bc-restored", Name: "w1"}, w); err != nil {
		t.Fatalf("widget w1 not restored in v1: %v", err)
	}
	if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 || w.GetLabels()["ark-restore"] != "bc-versions-restore" {
		t.Errorf("restored widget: %v", w.Object)
	}
}
