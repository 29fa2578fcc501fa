package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// A custom resource whose status lives in its status subresource.
const controlsGaugeFixture = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gauges.rs.example.com}
spec:
  group: rs.example.com
  scope: Namespaced
  names: {plural: gauges, singular: gauge, kind: Gauge}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// The rules of a resource modifier ConfigMap, in Velero's format.
const controlsModifierRules = `version: v1
resourceModifierRules:
- conditions:
    groupResource: configmaps
    resourceNameRegex: "^mod-"
    namespaces: [rs-copy]
  patches:
  - operation: replace
    path: /data/v
    value: modified
  mergePatches:
  - patchData: '{"metadata": {"labels": {"moved": "yes"}}}'
- conditions:
    groupResource: services
    labelSelector: {matchLabels: {tier: front}}
  strategicPatches:
  - patchData: '{"spec": {"ports": [{"port": 80, "targetPort": 8081}]}}'
`

func controlsGauge(ns, name string) *unstructured.Unstructured {
	g := &unstructured.Unstructured{}
	g.SetGroupVersionKind(schema.GroupVersionKind{Group: "rs.example.com", Version: "v1", Kind: "Gauge"})
	g.SetNamespace(ns)
	g.SetName(name)
	return g
}

// TestRestoreControls: --existing-resource-policy update patches changed
// objects to the backed-up state and names the field of one it cannot
// update; a restore under a namespace mapping applies resource modifier
// rules, restores the status of the resources named by --restore-status,
// keeps node ports with --preserve-nodeports and lets the token controller
// refill a service account token Secret for the new namespace; invalid
// rules and wildcard mappings fail validation clearly; --from-schedule
// restores the schedule's newest Completed backup.
func TestRestoreControls(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.EnsureNamespace("rs-app")
	restoreApply(t, env, controlsGaugeFixture)
	env.Eventually(time.Minute, "gauges served", func() (bool, error) {
		return env.Kubectl("get", "gauges.rs.example.com", "-A").Err == nil, nil
	})
	env.Eventually(2*time.Minute, "default service account and kube-root-ca.crt in rs-app", func() (bool, error) {
		err1 := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-app", Name: "default"}, &corev1.ServiceAccount{})
		err2 := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-app", Name: "kube-root-ca.crt"}, &corev1.ConfigMap{})
		return err1 == nil && err2 == nil, nil
	})
	immutable := true
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "changed"}, Data: map[string]string{"v": "backed-up", "old": "x"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "same"}, Data: map[string]string{"v": "same"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "frozen"}, Immutable: &immutable, Data: map[string]string{"v": "1"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "mod-a"}, Data: map[string]string{"v": "orig"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "np", Labels: map[string]string{"tier": "front"}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "np"},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: 30123}}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "robot"}},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	token := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "robot-token",
		Annotations: map[string]string{corev1.ServiceAccountNameKey: "robot"}}, Type: corev1.SecretTypeServiceAccountToken}
	if err := env.Client.Create(ctx, token); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "the token controller fills robot-token", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(token), token)
		return err == nil && len(token.Data["token"]) > 0 && string(token.Data["namespace"]) == "rs-app", err
	})
	gauge := controlsGauge("rs-app", "g1")
	gauge.Object["spec"] = map[string]any{"max": int64(10)}
	if err := env.Client.Create(ctx, gauge); err != nil {
		t.Fatal(err)
	}
	gauge.Object["status"] = map[string]any{"reading": int64(7)}
	if err := env.Client.Status().Update(ctx, gauge); err != nil {
		t.Fatal(err)
	}
	mustBackup(t, env, "rs-backup", "--include-namespaces", "rs-app")

	// --existing-resource-policy update.
	var changed corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-app", Name: "changed"}, &changed); err != nil {
		t.Fatal(err)
	}
	changed.Data = map[string]string{"v": "changed after the backup", "new": "y"}
	changed.Labels = map[string]string{"added-later": "kept"}
	if err := env.Client.Update(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	frozen := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "frozen"}}
	if err := env.Client.Delete(ctx, frozen); err != nil {
		t.Fatal(err)
	}
	frozen = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "frozen"}, Immutable: &immutable, Data: map[string]string{"v": "2"}}
	if err := env.Client.Create(ctx, frozen); err != nil {
		t.Fatal(err)
	}
	ru, r := restoreRun(t, env, "rs-update", "rs-backup", "--include-resources", "configmaps", "--existing-resource-policy", "update")
	if want := "Restore rs-update: Completed (0 items restored, 1 existing updated, 3 already identical, 1 warnings, 0 errors)"; ru.Err != nil || !strings.Contains(ru.Stdout, want) {
		t.Errorf("ark restore create --wait: err %v, output lacks %q:\n%s", ru.Err, want, ru.Output())
	}
	// changed: updated; same, mod-a, kube-root-ca.crt: identical; frozen: refused.
	if r.Status.ItemsUpdated != 1 || r.Status.ItemsUnchanged != 3 {
		t.Errorf("rs-update: %d updated (want 1), %d unchanged (want 3)", r.Status.ItemsUpdated, r.Status.ItemsUnchanged)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&changed), &changed); err != nil {
		t.Fatal(err)
	}
	if len(changed.Data) != 2 || changed.Data["v"] != "backed-up" || changed.Data["old"] != "x" || changed.Labels["added-later"] != "kept" {
		t.Errorf("config map changed after the update: data %v labels %v; want the backed-up data and the live label kept", changed.Data, changed.Labels)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(frozen), frozen); err != nil || frozen.Data["v"] != "2" {
		t.Errorf("immutable config map: %v %v", err, frozen.Data)
	}
	w := restoreResultsFile(t, env, "rs-backup", "rs-update")["warnings"].Namespaces["rs-app"]
	if len(w) != 1 || !strings.Contains(w[0], "ConfigMap rs-app/frozen already exists and could not be updated") || !strings.Contains(w[0], "field data") {
		t.Errorf("rs-update warnings %q: want one naming frozen and its field data", w)
	}
	if d := env.MustArk("restore", "describe", "rs-update"); !strings.Contains(d, "Existing objects:    update") ||
		!strings.Contains(d, "Existing:   1 updated to the backed-up state, 3 already identical") {
		t.Errorf("restore describe of rs-update:\n%s", d)
	}

	// A copy under a namespace mapping, with modifiers, status and node
	// ports. The node port is free once the original Service is gone.
	if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "np"}}); err != nil {
		t.Fatal(err)
	}
	rulesCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "rs-rules"},
		Data: map[string]string{"rules.yaml": controlsModifierRules}}
	if err := env.Client.Create(ctx, rulesCM); err != nil {
		t.Fatal(err)
	}
	res, rc := restoreRun(t, env, "rs-copy", "rs-backup", "--namespace-mappings", "rs-app:rs-copy",
		"--resource-modifier-configmap", "rs-rules", "--restore-status", "gauges.rs.example.com", "--preserve-nodeports")
	if res.Err != nil || rc.Status.Phase != arkv1.RestorePhaseCompleted || rc.Status.Errors != 0 {
		t.Fatalf("rs-copy: %v %+v\n%s\n%+v", res.Err, rc.Status, res.Output(), restoreResultsFile(t, env, "rs-backup", "rs-copy"))
	}
	var modA corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-copy", Name: "mod-a"}, &modA); err != nil {
		t.Fatal(err)
	}
	if modA.Data["v"] != "modified" || modA.Labels["moved"] != "yes" {
		t.Errorf("mod-a in rs-copy: data %v labels %v; want the rules' JSON patch and merge patch applied", modA.Data, modA.Labels)
	}
	var same corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-copy", Name: "same"}, &same); err != nil || same.Data["v"] != "same" || same.Labels["moved"] != "" {
		t.Errorf("same in rs-copy (no rule matches it): %v %v %v", err, same.Data, same.Labels)
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-copy", Name: "np"}, &svc); err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].NodePort != 30123 || svc.Spec.Ports[0].TargetPort.IntValue() != 8081 {
		t.Errorf("service np in rs-copy: ports %+v; want node port 30123 preserved and target port 8081 from the strategic patch", svc.Spec.Ports)
	}
	g := controlsGauge("rs-copy", "g1")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(g), g); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := unstructured.NestedInt64(g.Object, "status", "reading"); v != 7 {
		t.Errorf("gauge g1 in rs-copy: status %v, want reading 7 restored", g.Object["status"])
	}
	copyToken := &corev1.Secret{}
	env.Eventually(time.Minute, "robot-token in rs-copy refilled for rs-copy", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-copy", Name: "robot-token"}, copyToken)
		return err == nil && len(copyToken.Data["token"]) > 0 && string(copyToken.Data["namespace"]) == "rs-copy", nil
	})
	if string(copyToken.Data["token"]) == string(token.Data["token"]) {
		t.Errorf("robot-token in rs-copy holds the token of rs-app/robot")
	}
	var robot corev1.ServiceAccount
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rs-copy", Name: "robot"}, &robot); err != nil ||
		copyToken.Annotations[corev1.ServiceAccountUIDKey] != string(robot.UID) {
		t.Errorf("robot-token in rs-copy belongs to uid %q, service account rs-copy/robot is %q (%v)", copyToken.Annotations[corev1.ServiceAccountUIDKey], robot.UID, err)
	}
	d := env.MustArk("restore", "describe", "rs-copy")
	for _, want := range []string{"Resource modifiers:  ConfigMap rs-rules", "Status restored of:  gauges.rs.example.com", "Node ports:          preserved"} {
		if !strings.Contains(d, want) {
			t.Errorf("restore describe of rs-copy lacks %q:\n%s", want, d)
		}
	}

	// Invalid rules and wildcard mappings fail validation, saying why.
	bad := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "rs-bad-rules"},
		Data: map[string]string{"rules.yaml": "version: v1\nresourceModifierRules:\n- conditions: {groupResource: configmaps}\n  patches: [{operation: replace, path: /data/v, value: '\"x\"'}]\n- conditions: {groupResource: configmaps}\n  patches: [{operation: frobnicate, path: /data}]\n"}}
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	// The CLI refuses them before creating anything; a Restore created some
	// other way fails validation on the server.
	if out := env.Ark("restore", "create", "rs-bad", "--from-backup", "rs-backup", "--resource-modifier-configmap", "rs-bad-rules"); out.Err == nil ||
		!strings.Contains(out.Output(), "resourceModifierRules[1]: patches[0].operation \"frobnicate\" is not a JSON Patch operation") {
		t.Errorf("ark restore create with invalid rules: err %v\n%s", out.Err, out.Output())
	}
	rb := &arkv1.Restore{ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "rs-bad"},
		Spec: arkv1.RestoreSpec{BackupName: "rs-backup", ResourceModifier: &arkv1.ResourceModifierReference{Kind: "ConfigMap", Name: "rs-bad-rules"}}}
	if err := env.Client.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "restore rs-bad FailedValidation", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(rb), rb)
		return rb.Status.Phase == arkv1.RestorePhaseFailedValidation, err
	})
	if len(rb.Status.ValidationErrors) != 1 || !strings.Contains(rb.Status.ValidationErrors[0], "resourceModifierRules[1]") ||
		!strings.Contains(rb.Status.ValidationErrors[0], "frobnicate") {
		t.Errorf("rs-bad: validation errors %q; want one naming resourceModifierRules[1] and its operation", rb.Status.ValidationErrors)
	}
	// The server validates (it lists every problem at once); --wait shows
	// its verdict.
	if out := env.Ark("restore", "create", "rs-wild", "--from-backup", "rs-backup", "--namespace-mappings", "rs-*:copy-*", "--wait"); out.Err == nil ||
		!strings.Contains(out.Output(), "wildcards are not supported") {
		t.Errorf("a wildcard mapping: err %v\n%s", out.Err, out.Output())
	}

	// --from-schedule: the schedule's newest Completed backup.
	env.MustArk("schedule", "create", "rs-daily", "--schedule", "0 3 * * *", "--include-namespaces", "rs-app")
	if out := env.Ark("restore", "create", "rs-too-early", "--from-schedule", "rs-daily", "--wait"); !strings.Contains(out.Output(), "has no Completed backup") {
		t.Errorf("--from-schedule before any backup:\n%s", out.Output())
	}
	mustBackup(t, env, "rs-daily-1", "--from-schedule", "rs-daily")
	mustBackup(t, env, "rs-daily-2", "--from-schedule", "rs-daily")
	if err := env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rs-app", Name: "mod-a"}}); err != nil {
		t.Fatal(err)
	}
	out := env.MustArk("restore", "create", "rs-from-schedule", "--from-schedule", "rs-daily", "--include-resources", "configmaps", "--wait")
	rs := restoreFetch(t, env, "rs-from-schedule")
	if rs.Spec.BackupName != "rs-daily-2" || rs.Labels[arkv1.BackupNameLabel] != "rs-daily-2" || rs.Status.Phase != arkv1.RestorePhaseCompleted {
		t.Fatalf("rs-from-schedule: backup %q, labels %v, phase %s; want rs-daily-2, Completed\n%s", rs.Spec.BackupName, rs.Labels, rs.Status.Phase, out)
	}
	if got := restoreCreatedObjects(t, env, "rs-from-schedule"); strings.Join(got, ",") != "configmaps rs-app/mod-a" {
		t.Errorf("rs-from-schedule created %v, want configmaps rs-app/mod-a", got)
	}
	if d := env.MustArk("restore", "describe", "rs-from-schedule"); !strings.Contains(d, "Backup:       rs-daily-2") || !strings.Contains(d, "Schedule:     rs-daily") {
		t.Errorf("restore describe of rs-from-schedule:\n%s", d)
	}
}
