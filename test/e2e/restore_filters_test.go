package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/heptio/ark/test/e2e/harness"
)

// restoreFiltersFixture: two namespaces, a cluster role and a volume bound
// to a claim of rf-a. Everything carries suite=rf (the backup is taken by
// that label); app=x marks a subset for the restore's own selector.
const restoreFiltersFixture = `
apiVersion: v1
kind: Namespace
metadata: {name: rf-a, labels: {suite: rf, team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: rf-b, labels: {suite: rf}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-a, namespace: rf-a, labels: {suite: rf, app: x}}
data: {k: a}
---
apiVersion: v1
kind: Secret
metadata: {name: secret-a, namespace: rf-a, labels: {suite: rf, app: x}}
stringData: {password: hunter2}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim-a, namespace: rf-a, labels: {suite: rf}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: rf-pv
  storageClassName: ""
---
apiVersion: v1
kind: Pod
metadata: {name: pod-a, namespace: rf-a, labels: {suite: rf, app: x}}
spec:
  containers: [{name: c, image: busybox}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: claim-a}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-b, namespace: rf-b, labels: {suite: rf}}
data: {k: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: rf-b, labels: {suite: rf, app: x}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rf-role, labels: {suite: rf, app: x}}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: rf-pv, labels: {suite: rf}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/rf-pv}
  claimRef: {namespace: rf-a, name: claim-a}
`

// TestRestoreFilters restores one backup with each kind of filter and checks
// exactly what each restore created: every object in the cluster carrying
// its ark-restore label. Each restore maps rf-a and rf-b to namespaces of
// its own, so the cases do not see each other's objects; the two
// cluster-scoped objects are deleted between cases.
func TestRestoreFilters(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	restoreApply(t, env, restoreFiltersFixture)
	restoreBackup(t, env, "rf-backup", "--selector", "suite=rf")
	// The originals of the cluster-scoped objects go, so that a restore can
	// create them.
	restoreDeletePV(t, env, "rf-pv")
	if err := env.Client.Delete(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "rf-role"}}); err != nil {
		t.Fatal(err)
	}

	// Objects of a case, named after the source namespaces: "A" stands for
	// rf-a's target, "B" for rf-b's.
	nsA := []string{"namespaces A", "configmaps A/cm-a", "secrets A/secret-a", "persistentvolumeclaims A/claim-a", "pods A/pod-a"}
	nsB := []string{"namespaces B", "configmaps B/cm-b", "deployments.apps B/web"}
	role := "clusterroles.rbac.authorization.k8s.io rf-role"
	pv := "persistentvolumes rf-pv"
	cases := []struct {
		name string
		args []string
		want []string
	}{
		// A volume comes along with its restored claim even though cluster
		// resources are not otherwise restored.
		{"one namespace", []string{"--include-namespaces", "rf-a"}, restoreJoin(nsA, pv)},
		{"exclude a namespace", []string{"--exclude-namespaces", "rf-a"}, nsB},
		// Namespaces are created for the items that go in them, from the
		// backed-up Namespace, even when namespaces are not restored as such.
		{"resources by short name and group", []string{"--include-resources", "cm,deployments.apps"},
			[]string{"namespaces A", "namespaces B", "configmaps A/cm-a", "configmaps B/cm-b", "deployments.apps B/web"}},
		{"exclude resources", []string{"--exclude-resources", "secrets,pvc"},
			[]string{"namespaces A", "configmaps A/cm-a", "pods A/pod-a", "namespaces B", "configmaps B/cm-b", "deployments.apps B/web", role, pv}},
		{"label selector", []string{"--selector", "app=x"},
			[]string{"namespaces A", "configmaps A/cm-a", "secrets A/secret-a", "pods A/pod-a", "namespaces B", "deployments.apps B/web", role}},
		{"cluster resources forced on", []string{"--include-namespaces", "rf-b", "--include-cluster-resources"}, restoreJoin(nsB, role, pv)},
		{"cluster resources forced off", []string{"--include-namespaces", "rf-a", "--include-cluster-resources=false"}, nsA},
		{"cluster resources only", []string{"--include-namespaces", "rf-none", "--include-cluster-resources"}, []string{role, pv}},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("rf-%d", i)
		a, b := name+"-a", name+"-b"
		args := append([]string{"--namespace-mappings", "rf-a:" + a + ",rf-b:" + b}, tc.args...)
		// Each cluster role a restore creates is a warning (it can grant
		// its rules to anyone a binding names).
		warnings := 0
		if slices.Contains(tc.want, role) {
			warnings = 1
		}
		restoreMustComplete(t, env, name, "rf-backup", warnings, args...)
		var want []string
		for _, w := range tc.want {
			w = strings.Replace(strings.Replace(w, " A", " "+a, 1), " B", " "+b, 1)
			want = append(want, w)
		}
		want = sortedStrings(want)
		got := restoreCreatedObjects(t, env, name)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s (%v):\n got  %v\n want %v", tc.name, tc.args, got, want)
		}
		// Data came through; the volume's claim follows the mapping.
		if slices.Contains(want, "configmaps "+a+"/cm-a") {
			var cm corev1.ConfigMap
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: a, Name: "cm-a"}, &cm); err != nil || cm.Data["k"] != "a" {
				t.Errorf("%s: cm-a: %v %v", tc.name, err, cm.Data)
			}
		}
		if slices.Contains(want, pv) {
			var v corev1.PersistentVolume
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "rf-pv"}, &v); err != nil {
				t.Fatal(err)
			}
			if v.Spec.ClaimRef == nil || v.Spec.ClaimRef.Namespace != a || v.Spec.ClaimRef.Name != "claim-a" {
				t.Errorf("%s: rf-pv claimRef %+v, want %s/claim-a", tc.name, v.Spec.ClaimRef, a)
			}
			restoreDeletePV(t, env, "rf-pv")
		}
		if slices.Contains(want, role) {
			var cr rbacv1.ClusterRole
			if err := env.Client.Get(ctx, client.ObjectKey{Name: "rf-role"}, &cr); err != nil {
				t.Fatal(err)
			}
			if len(cr.Rules) != 1 || cr.Rules[0].Resources[0] != "configmaps" {
				t.Errorf("%s: rf-role rules %+v", tc.name, cr.Rules)
			}
			if err := env.Client.Delete(ctx, &cr); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func restoreJoin(lists ...any) []string {
	var out []string
	for _, l := range lists {
		switch l := l.(type) {
		case string:
			out = append(out, l)
		case []string:
			out = append(out, l...)
		}
	}
	return out
}
