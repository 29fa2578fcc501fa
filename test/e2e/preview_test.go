package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestBackupDiffAndRestorePreview: after a backup, a ConfigMap is changed, a
// Deployment scaled, a Service deleted and a Secret added. `ark backup diff`
// shows exactly those four (and nothing for the objects the cluster touched
// on its own: resourceVersions, cluster IPs, ...); diff of two backups shows
// the same without a cluster. Then `ark restore create --dry-run` previews a
// restore of the first backup through the server: the plan says which
// objects exist as backed up, which differ and which would be created, and
// nothing in the namespace is created or changed.
func TestBackupDiffAndRestorePreview(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.EnsureNamespace("pv-app")
	replicas := int32(1)
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "pv-app", Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}}}
	// A Service without a selector, so no controller adds Endpoints of it
	// behind the test's back.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "pv-app", Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "pv-app", Name: "settings"}, Data: map[string]string{"mode": "fast"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "pv-app", Name: "same"}, Data: map[string]string{"k": "v"}},
		deploy, svc,
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	env.Eventually(2*time.Minute, "default service account and kube-root-ca.crt in pv-app", func() (bool, error) {
		err1 := env.Client.Get(ctx, client.ObjectKey{Namespace: "pv-app", Name: "default"}, &corev1.ServiceAccount{})
		err2 := env.Client.Get(ctx, client.ObjectKey{Namespace: "pv-app", Name: "kube-root-ca.crt"}, &corev1.ConfigMap{})
		return err1 == nil && err2 == nil, nil
	})
	mustBackup(t, env, "pv-before", "--include-namespaces", "pv-app")

	// Nothing changed yet: no differences.
	if out := env.MustArk("backup", "diff", "pv-before", "--include-new"); !strings.Contains(out, "No differences.") {
		t.Fatalf("diff right after the backup:\n%s", out)
	}

	var settings corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "pv-app", Name: "settings"}, &settings); err != nil {
		t.Fatal(err)
	}
	settings.Data["mode"] = "safe"
	if err := env.Client.Update(ctx, &settings); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(deploy), deploy); err != nil {
		t.Fatal(err)
	}
	replicas = 3
	deploy.Spec.Replicas = &replicas
	if err := env.Client.Update(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "pv-app", Name: "token"}, StringData: map[string]string{"t": "x"}}); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"changed configmaps pv-app/settings [data.mode]",
		"changed deployments.apps pv-app/web [spec.replicas]",
		"gone services pv-app/web []",
		"new secrets pv-app/token []",
	}
	diffItems := func(args ...string) []string {
		t.Helper()
		var rep struct {
			Items []struct {
				Status, Resource, Namespace, Name string
				Paths                             []string
			} `json:"items"`
		}
		out := env.MustArk(append([]string{"backup", "diff", "-o", "json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("diff -o json: %v\n%s", err, out)
		}
		var got []string
		for _, it := range rep.Items {
			got = append(got, it.Status+" "+it.Resource+" "+it.Namespace+"/"+it.Name+" ["+strings.Join(it.Paths, ",")+"]")
		}
		sort.Strings(got)
		return got
	}
	if got := diffItems("pv-before", "--include-new"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff against the cluster:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	out := env.MustArk("backup", "diff", "pv-before", "--include-new", "--details")
	for _, w := range []string{"RESOURCE", "UNCHANGED", "TOTAL", "Differences:", "data.mode", `"fast"`, `"safe"`, "spec.replicas"} {
		if !strings.Contains(out, w) {
			t.Errorf("diff --details lacks %q:\n%s", w, out)
		}
	}

	// Two backups, the same four, no cluster needed for the comparison.
	mustBackup(t, env, "pv-after", "--include-namespaces", "pv-app")
	if got := diffItems("pv-before", "pv-after"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diff of two backups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The preview: restore pv-before as a dry run.
	before := previewResourceVersions(t, env, "pv-app")
	res := env.Ark("restore", "create", "pv-preview", "--from-backup", "pv-before", "--dry-run", "--wait")
	r := restoreFetch(t, env, "pv-preview")
	if res.Err != nil || r.Status.Phase != arkv1.RestorePhasePreviewed || r.Status.Plan == nil {
		t.Fatalf("dry-run restore: %v, phase %s, plan %+v\n%s", res.Err, r.Status.Phase, r.Status.Plan, res.Output())
	}
	// The backup: the namespace, settings, same, kube-root-ca.crt, the
	// deployment, the service, the default service account. Existing and
	// unchanged: namespace, same, kube-root-ca.crt, default; changed:
	// settings, the deployment; the service would be created.
	wantPlan := arkv1.RestorePlanSummary{WouldCreate: 1, Identical: 4, Differs: 2}
	if *r.Status.Plan != wantPlan {
		t.Errorf("plan %+v, want %+v\n%s", *r.Status.Plan, wantPlan, env.MustArk("restore", "describe", "pv-preview", "--details"))
	}
	for _, w := range []string{"Dry-run restore \"pv-preview\" submitted", "Previewed", "1 would be created, 4 exist as backed up, 2 exist and differ"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("restore create --dry-run --wait lacks %q:\n%s", w, res.Stdout)
		}
	}
	out = env.MustArk("restore", "describe", "pv-preview", "--details")
	for _, w := range []string{"Phase:  Previewed", "Dry run: nothing was created or changed.", "NOT CHECKED",
		"WouldCreate", "services", "Differs", "settings", "Identical"} {
		if !strings.Contains(out, w) {
			t.Errorf("restore describe --details lacks %q:\n%s", w, out)
		}
	}
	if got := restoreCreatedObjects(t, env, "pv-preview"); len(got) != 0 {
		t.Errorf("the dry run created %v", got)
	}
	after := previewResourceVersions(t, env, "pv-app")
	for k, rv := range before {
		if after[k] != rv {
			t.Errorf("%s changed in the dry run: resourceVersion %s -> %q", k, rv, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared in the dry run", k)
		}
	}
}

// previewResourceVersions lists the namespace and every object in it of the
// kinds the test uses, with their resourceVersions.
func previewResourceVersions(t *testing.T, env *harness.Env, ns string) map[string]string {
	t.Helper()
	out := restoreSnapshotNamespace(t, env, ns)
	ctx := context.Background()
	var deps appsv1.DeploymentList
	var svcs corev1.ServiceList
	if err := env.Client.List(ctx, &deps, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		out["deployment/"+d.Name] = d.ResourceVersion
	}
	for _, s := range svcs.Items {
		out["service/"+s.Name] = s.ResourceVersion
	}
	return out
}
