package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// restoreMappingFixture is an app whose pod uses a service account, a
// secret, a config map and a claim bound to a cluster-scoped volume.
// Everything carries suite=rm so that the backup (by that label) holds
// exactly these objects and not what the controller-manager puts in every
// namespace (the default service account, kube-root-ca.crt), which it also
// puts into the mapped namespace at the same time as the restore.
const restoreMappingFixture = `
apiVersion: v1
kind: Namespace
metadata:
  name: rm-src
  labels: {suite: rm, team: blue}
  annotations: {owner: blue-team@example.com}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: rm-src, labels: {suite: rm}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: rm-src, labels: {suite: rm}}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: rm-src, labels: {suite: rm}}
data: {color: blue, size: "3"}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: rm-pv, labels: {suite: rm}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/rm-pv}
  claimRef: {namespace: rm-src, name: data}
  persistentVolumeReclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: rm-src, labels: {suite: rm}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeName: rm-pv
  storageClassName: ""
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: rm-src, labels: {suite: rm}}
spec:
  serviceAccountName: robot
  containers:
  - name: app
    image: busybox
    envFrom: [{secretRef: {name: creds}}]
    volumeMounts:
    - {name: settings, mountPath: /etc/settings}
    - {name: data, mountPath: /data}
  volumes:
  - {name: settings, configMap: {name: settings}}
  - {name: data, persistentVolumeClaim: {claimName: data}}
`

// TestRestoreNamespaceMapping restores a namespace under another name in the
// same cluster: every object lands in the new namespace with its data, the
// volume's claim reference follows the mapping, and the source namespace is
// left exactly as it was. (The local cluster runs no volume binder, so claims
// stay Pending: what is checked is what the restore wrote.)
func TestRestoreNamespaceMapping(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	restoreApply(t, env, restoreMappingFixture)

	restoreBackup(t, env, "rm-backup", "--selector", "suite=rm")
	entries := tarEntries(t, restoreDownload(t, env, "rm-backup"))
	var got []string
	for p := range entries {
		if strings.HasPrefix(p, "resources/") {
			got = append(got, p)
		}
	}
	wantEntries := []string{
		"resources/configmaps/namespaces/rm-src/settings.json",
		"resources/namespaces/cluster/rm-src.json",
		"resources/persistentvolumeclaims/namespaces/rm-src/data.json",
		"resources/persistentvolumes/cluster/rm-pv.json",
		"resources/pods/namespaces/rm-src/app.json",
		"resources/secrets/namespaces/rm-src/creds.json",
		"resources/serviceaccounts/namespaces/rm-src/robot.json",
	}
	if strings.Join(sortedStrings(got), "\n") != strings.Join(wantEntries, "\n") {
		t.Fatalf("backup entries:\n got  %v\n want %v", sortedStrings(got), wantEntries)
	}

	// The volume is cluster-wide: the copy can only have it once the
	// original is gone. Everything in rm-src stays.
	restoreDeletePV(t, env, "rm-pv")
	before := restoreSnapshotNamespace(t, env, "rm-src")

	r := restoreMustComplete(t, env, "rm-restore", "rm-backup", 0, "--namespace-mappings", "rm-src:rm-dst")
	if r.Status.Progress.ItemsRestored != 6 || r.Status.Progress.TotalItems != 6 {
		t.Errorf("progress %+v, want 6 of 6 items (namespace not counted)", r.Status.Progress)
	}
	wantCreated := []string{
		"configmaps rm-dst/settings",
		"namespaces rm-dst",
		"persistentvolumeclaims rm-dst/data",
		"persistentvolumes rm-pv",
		"pods rm-dst/app",
		"secrets rm-dst/creds",
		"serviceaccounts rm-dst/robot",
	}
	if created := restoreCreatedObjects(t, env, "rm-restore"); strings.Join(created, "\n") != strings.Join(wantCreated, "\n") {
		t.Fatalf("the restore created:\n %v\nwant:\n %v", created, wantCreated)
	}

	var ns corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "rm-dst"}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["team"] != "blue" || ns.Labels["suite"] != "rm" || ns.Annotations["owner"] != "blue-team@example.com" {
		t.Errorf("rm-dst does not carry rm-src's labels and annotations: %v %v", ns.Labels, ns.Annotations)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rm-dst", Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if len(cm.Data) != 2 || cm.Data["color"] != "blue" || cm.Data["size"] != "3" {
		t.Errorf("configmap data %v", cm.Data)
	}
	var secret corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rm-dst", Name: "creds"}, &secret); err != nil {
		t.Fatal(err)
	}
	if len(secret.Data) != 1 || string(secret.Data["password"]) != "hunter2" {
		t.Errorf("secret data %v", secret.Data)
	}
	var pod corev1.Pod
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rm-dst", Name: "app"}, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "robot" || pod.Spec.Containers[0].EnvFrom[0].SecretRef.Name != "creds" {
		t.Errorf("pod spec: serviceAccount %q, envFrom %+v", pod.Spec.ServiceAccountName, pod.Spec.Containers[0].EnvFrom)
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil {
			continue // the new cluster's token, added by admission
		}
		switch {
		case v.Name == "settings" && v.ConfigMap != nil && v.ConfigMap.Name == "settings":
		case v.Name == "data" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "data":
		default:
			t.Errorf("unexpected volume in the restored pod: %+v", v)
		}
	}

	// The volume's claim reference follows the mapping, and the volume binds
	// to the restored claim, not to the original one.
	var pv corev1.PersistentVolume
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "rm-pv"}, &pv); err != nil {
		t.Fatal(err)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Namespace != "rm-dst" || pv.Spec.ClaimRef.Name != "data" {
		t.Fatalf("restored PV claimRef %+v, want rm-dst/data", pv.Spec.ClaimRef)
	}
	if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != "/tmp/rm-pv" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("restored PV spec differs: %+v", pv.Spec)
	}
	if pv.Spec.ClaimRef.UID != "" || pv.Spec.ClaimRef.ResourceVersion != "" {
		t.Errorf("restored PV keeps the old claim's uid/resourceVersion, which would make it look taken: %+v", pv.Spec.ClaimRef)
	}
	var dstClaim corev1.PersistentVolumeClaim
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rm-dst", Name: "data"}, &dstClaim); err != nil {
		t.Fatal(err)
	}
	if dstClaim.Spec.VolumeName != "rm-pv" || dstClaim.Annotations["pv.kubernetes.io/bind-completed"] != "" {
		t.Errorf("restored claim: volumeName %q, annotations %v", dstClaim.Spec.VolumeName, dstClaim.Annotations)
	}

	// The source namespace: same objects, same versions, no restore label.
	after := restoreSnapshotNamespace(t, env, "rm-src")
	for key, rv := range before {
		if after[key] != rv {
			t.Errorf("%s in rm-src changed: resourceVersion %s -> %q", key, rv, after[key])
		}
	}
	for key := range after {
		if _, ok := before[key]; !ok {
			t.Errorf("%s appeared in rm-src", key)
		}
	}

	// describe shows the mapping.
	if out := env.MustArk("restore", "describe", "rm-restore"); !strings.Contains(out, "  Mapping:   rm-src -> rm-dst") || !strings.Contains(out, "Phase:  Completed") {
		t.Errorf("describe:\n%s", out)
	}

	// A mapping onto an invalid namespace name is refused before anything
	// is restored.
	res, bad := restoreRun(t, env, "rm-bad", "rm-backup", "--namespace-mappings", "rm-src:Not_A_Namespace")
	if res.Err == nil || bad.Status.Phase != arkv1.RestorePhaseFailedValidation || len(bad.Status.ValidationErrors) != 1 ||
		!strings.Contains(bad.Status.ValidationErrors[0], `"Not_A_Namespace" is not a valid namespace name`) {
		t.Errorf("invalid mapping: err %v, status %+v\n%s", res.Err, bad.Status, res.Output())
	}
}

// restoreSnapshotNamespace returns "kind/name" -> resourceVersion of the
// config maps, secrets, service accounts, claims and pods of a namespace, and
// of the namespace itself.
func restoreSnapshotNamespace(t *testing.T, env *harness.Env, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var n corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
		t.Fatal(err)
	}
	out["namespace/"+ns] = n.ResourceVersion
	lists := map[string]client.ObjectList{
		"configmap": &corev1.ConfigMapList{}, "secret": &corev1.SecretList{},
		"serviceaccount": &corev1.ServiceAccountList{}, "pod": &corev1.PodList{},
		"persistentvolumeclaim": &corev1.PersistentVolumeClaimList{},
	}
	for kind, l := range lists {
		if err := env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		switch l := l.(type) {
		case *corev1.ConfigMapList:
			for _, o := range l.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
		case *corev1.SecretList:
			for _, o := range l.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
		case *corev1.ServiceAccountList:
			for _, o := range l.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
		case *corev1.PodList:
			for _, o := range l.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
		case *corev1.PersistentVolumeClaimList:
			for _, o := range l.Items {
				out[kind+"/"+o.Name] = o.ResourceVersion
			}
		}
	}
	return out
}
