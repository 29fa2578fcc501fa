package restore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	arkv1 "github.com/heptio/ark/api/v1"
)

var gizmosGVR = schema.GroupVersionResource{Group: "ark-test.io", Version: "v1", Resource: "gizmos"}

// gizmoCRD serves gizmos.ark-test.io with a status subresource, whose
// status the API server ignores on create.
func (c *liveCluster) gizmoCRD(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gizmos.ark-test.io"},
		"spec": map[string]any{
			"group": "ark-test.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"subresources": map[string]any{"status": map[string]any{}},
				"schema":       map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	must[*unstructured.Unstructured](t)(c.dynamic.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}))
	waitUntil(t, "gizmos served", func() (bool, error) {
		_, ok := c.discovery(t).ForGroupResource(gizmosGVR.GroupResource())
		return ok, nil
	})
}

// TestIntegrationRestoreControls: existingResourcePolicy update patches what
// changed since the backup (and says which field it could not change),
// restoreStatus puts a custom resource's status back, a service account
// token Secret is restored after its ServiceAccount and filled in by the
// target namespace's token controller, preserveNodePorts keeps node ports.
func TestIntegrationRestoreControls(t *testing.T) {
	c := startLiveCluster(t)
	ctx := context.Background()
	c.makeShop(t, "ctl")
	c.gizmoCRD(t)
	k := c.kube
	robot := must[*corev1.ServiceAccount](t)(k.CoreV1().ServiceAccounts("ctl").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}))
	must[*corev1.Secret](t)(k.CoreV1().Secrets("ctl").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Annotations: map[string]string{"kubernetes.io/service-account.name": "robot"}},
		Type:       corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{}))
	var oldToken []byte
	waitUntil(t, "the token controller fills robot-token", func() (bool, error) {
		s, err := k.CoreV1().Secrets("ctl").Get(ctx, "robot-token", metav1.GetOptions{})
		oldToken = s.Data["token"]
		return err == nil && len(oldToken) > 0, err
	})
	g := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "ark-test.io/v1", "kind": "Gizmo",
		"metadata": map[string]any{"name": "g1", "namespace": "ctl"}, "spec": map[string]any{"size": int64(3)}}}
	g = must[*unstructured.Unstructured](t)(c.dynamic.Resource(gizmosGVR).Namespace("ctl").Create(ctx, g, metav1.CreateOptions{}))
	g.Object["status"] = map[string]any{"ready": true, "observed": int64(3)}
	must[*unstructured.Unstructured](t)(c.dynamic.Resource(gizmosGVR).Namespace("ctl").UpdateStatus(ctx, g, metav1.UpdateOptions{}))
	svc := must[*corev1.Service](t)(k.CoreV1().Services("ctl").Get(ctx, "web", metav1.GetOptions{}))
	nodePort := svc.Spec.Ports[0].NodePort

	contents := c.backupResources(t, append(slices.Clone(backedUpResources), gizmosGVR), "ctl")

	// Changes after the backup: data edited and a key added, a label added
	// by someone else, replicas scaled, and a deployment recreated with
	// another (immutable) selector.
	settings := must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps("ctl").Get(ctx, "settings", metav1.GetOptions{}))
	settings.Data = map[string]string{"color": "red", "added": "later"}
	settings.Labels["owner"] = "ops"
	must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps("ctl").Update(ctx, settings, metav1.UpdateOptions{}))
	web := must[*appsv1.Deployment](t)(k.AppsV1().Deployments("ctl").Get(ctx, "web", metav1.GetOptions{}))
	five := int32(5)
	web.Spec.Replicas = &five
	must[*appsv1.Deployment](t)(k.AppsV1().Deployments("ctl").Update(ctx, web, metav1.UpdateOptions{}))
	if err := k.BatchV1().Jobs("ctl").Delete(ctx, "migrate", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps("ctl").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "guard"}}, metav1.CreateOptions{}))

	res := c.restore(t, contents, "upd", arkv1.RestoreSpec{BackupName: "b", ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate, IncludedResources: []string{"configmaps", "deployments", "services", "jobs"}})
	if len(res.Errors.Namespaces)+len(res.Errors.Cluster)+len(res.Errors.Ark) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	// Updated: settings and web. Unchanged: flags, kube-root-ca.crt, both
	// services (their allocated IPs and ports are kept, not reset). The job
	// was deleted: created again.
	if res.ItemsUpdated != 2 || res.ItemsUnchanged != 4 || res.ItemsRestored != 1 {
		t.Errorf("updated %d (want 2), unchanged %d (want 4), created %d (want 1); warnings %+v", res.ItemsUpdated, res.ItemsUnchanged, res.ItemsRestored, res.Warnings)
	}
	if len(res.Warnings.Namespaces["ctl"]) != 0 {
		t.Errorf("warnings: %+v", res.Warnings)
	}
	settings = must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps("ctl").Get(ctx, "settings", metav1.GetOptions{}))
	if len(settings.Data) != 1 || settings.Data["color"] != "blue" || settings.Labels["owner"] != "ops" || settings.Labels["app"] != "web" || settings.Labels[RestoreLabel] != "upd" {
		t.Errorf("settings after the update: data %v labels %v", settings.Data, settings.Labels)
	}
	web = must[*appsv1.Deployment](t)(k.AppsV1().Deployments("ctl").Get(ctx, "web", metav1.GetOptions{}))
	if *web.Spec.Replicas != 1 || web.Labels[RestoreLabel] != "upd" {
		t.Errorf("web after the update: replicas %d labels %v", *web.Spec.Replicas, web.Labels)
	}
	flags := must[*corev1.ConfigMap](t)(k.CoreV1().ConfigMaps("ctl").Get(ctx, "flags", metav1.GetOptions{}))
	if _, labelled := flags.Labels[RestoreLabel]; labelled {
		t.Errorf("an identical object was written: %v", flags.Labels)
	}
	if after := must[*corev1.Service](t)(k.CoreV1().Services("ctl").Get(ctx, "web", metav1.GetOptions{})); after.Spec.Ports[0].NodePort != nodePort || after.Spec.ClusterIP != svc.Spec.ClusterIP {
		t.Errorf("the service's allocated port or IP changed: %+v", after.Spec)
	}
	if _, err := k.CoreV1().ConfigMaps("ctl").Get(ctx, "guard", metav1.GetOptions{}); err != nil {
		t.Errorf("an object the backup does not have was touched: %v", err)
	}

	// An immutable field that differs: a warning naming the field.
	if err := k.AppsV1().Deployments("ctl").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"app": "other"}
	web.Spec.Selector = &metav1.LabelSelector{MatchLabels: other}
	web.Spec.Template.Labels = other
	web.ResourceVersion, web.UID = "", ""
	waitUntil(t, "deployment web gone", func() (bool, error) {
		_, err := k.AppsV1().Deployments("ctl").Create(ctx, web, metav1.CreateOptions{})
		return err == nil, nil
	})
	res = c.restore(t, contents, "imm", arkv1.RestoreSpec{BackupName: "b", ExistingResourcePolicy: arkv1.ExistingResourcePolicyUpdate, IncludedResources: []string{"deployments"}})
	want := "Deployment ctl/web already exists and could not be updated to the backed-up state, so it was left as it is: field spec.selector:"
	if w := res.Warnings.Namespaces["ctl"]; len(w) != 1 || !strings.HasPrefix(w[0], want) || !strings.Contains(w[0], "field is immutable") {
		t.Errorf("warnings %+v, want one starting %q", res.Warnings, want)
	}

	// Into another namespace: the gizmo with its status, the token secret
	// after its service account, filled in for the new namespace.
	res = c.restore(t, contents, "copy", arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"ctl": "ctl2"},
		IncludedResources: []string{"secrets", "serviceaccounts", "gizmos.ark-test.io"},
		RestoreStatus:     &arkv1.RestoreStatusSpec{IncludedResources: []string{"gizmos.ark-test.io"}}})
	checkNoErrors(t, res)
	copied := must[*unstructured.Unstructured](t)(c.dynamic.Resource(gizmosGVR).Namespace("ctl2").Get(ctx, "g1", metav1.GetOptions{}))
	if ready, _, _ := unstructured.NestedBool(copied.Object, "status", "ready"); !ready {
		t.Errorf("gizmo status not restored: %v", copied.Object["status"])
	}
	newRobot := must[*corev1.ServiceAccount](t)(k.CoreV1().ServiceAccounts("ctl2").Get(ctx, "robot", metav1.GetOptions{}))
	var tok *corev1.Secret
	waitUntil(t, "the token controller fills robot-token in ctl2", func() (bool, error) {
		var err error
		tok, err = k.CoreV1().Secrets("ctl2").Get(ctx, "robot-token", metav1.GetOptions{})
		return err == nil && len(tok.Data["token"]) > 0, err
	})
	if string(tok.Data["namespace"]) != "ctl2" || string(tok.Data["token"]) == string(oldToken) ||
		tok.Annotations["kubernetes.io/service-account.uid"] != string(newRobot.UID) || newRobot.UID == robot.UID {
		t.Errorf("token secret in ctl2: namespace %q, uid annotation %q (service account %s), token renewed %v",
			tok.Data["namespace"], tok.Annotations["kubernetes.io/service-account.uid"], newRobot.UID, string(tok.Data["token"]) != string(oldToken))
	}
	// It stays: the token controller does not delete it a moment later.
	time.Sleep(2 * time.Second)
	if _, err := k.CoreV1().Secrets("ctl2").Get(ctx, "robot-token", metav1.GetOptions{}); err != nil {
		t.Errorf("robot-token in ctl2: %v", err)
	}

	// A priority order that puts Secrets before ServiceAccounts: the token
	// Secret is held until its ServiceAccount is restored, so the token
	// controller fills it rather than deleting it.
	secretsFirst, err := Run(ctx, Options{
		Restore: newRestore("secrets-first", arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"ctl": "ctl3"},
			IncludedResources: []string{"secrets", "serviceaccounts"}}),
		Contents: contents, Discovery: c.discovery(t), Dynamic: c.dynamic,
		Priorities: []string{"namespaces", "secrets", "serviceaccounts"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNoErrors(t, secretsFirst)
	thirdRobot := must[*corev1.ServiceAccount](t)(k.CoreV1().ServiceAccounts("ctl3").Get(ctx, "robot", metav1.GetOptions{}))
	waitUntil(t, "the token controller fills robot-token in ctl3", func() (bool, error) {
		var err error
		tok, err = k.CoreV1().Secrets("ctl3").Get(ctx, "robot-token", metav1.GetOptions{})
		return err == nil && len(tok.Data["token"]) > 0, err
	})
	if string(tok.Data["namespace"]) != "ctl3" || tok.Annotations["kubernetes.io/service-account.uid"] != string(thirdRobot.UID) {
		t.Errorf("token secret in ctl3: namespace %q, uid annotation %q (service account %s)",
			tok.Data["namespace"], tok.Annotations["kubernetes.io/service-account.uid"], thirdRobot.UID)
	}

	// preserveNodePorts: the service comes back on its old node port.
	if err := k.CoreV1().Services("ctl").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	yes := true
	res = c.restore(t, contents, "ports", arkv1.RestoreSpec{BackupName: "b", IncludedResources: []string{"services"}, PreserveNodePorts: &yes})
	restored := must[*corev1.Service](t)(k.CoreV1().Services("ctl").Get(ctx, "web", metav1.GetOptions{}))
	if res.ItemsRestored != 1 || restored.Spec.Ports[0].NodePort != nodePort {
		t.Errorf("restored %d, node port %d, want %d", res.ItemsRestored, restored.Spec.Ports[0].NodePort, nodePort)
	}
}
