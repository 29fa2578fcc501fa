package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

const restoreOrderingFixture = `
apiVersion: v1
kind: Namespace
metadata: {name: ro-app}
---
apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: ro-app}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}'}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ro-app}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ro-app}
data: {color: blue}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: ro-app}
imagePullSecrets: [{name: registry}]
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: ro-app}
spec:
  serviceAccountName: robot
  nodeName: node-of-the-old-cluster
  imagePullSecrets: [{name: registry}]
  containers:
  - name: app
    image: registry.example.com/app:1
    envFrom: [{secretRef: {name: creds}}, {configMapRef: {name: settings}}]
    volumeMounts: [{name: config, mountPath: /etc/app}]
  volumes:
  - name: config
    projected:
      sources: [{secret: {name: creds}}, {configMap: {name: settings}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ro-app}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: ro-app}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: workers, namespace: ro-app}
spec:
  replicas: 1
  selector: {matchLabels: {app: workers}}
  template:
    metadata: {labels: {app: workers}}
    spec: {containers: [{name: w, image: busybox}]}
`

// TestRestoreOrdering restores a deleted namespace whose pod needs its
// service account, secrets and config map to exist first, next to a job, a
// node-port service and a replica set with a pod it controls: the restore
// has no errors, goes tier by tier in the documented order, applies the
// built-in actions, and leaves the controlled pod to its controller.
func TestRestoreOrdering(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	restoreApply(t, env, restoreOrderingFixture)
	// A pod controlled by the replica set (the local cluster runs no
	// replica set controller, so it is made here).
	var rs appsv1.ReplicaSet
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ro-app", Name: "workers"}, &rs); err != nil {
		t.Fatal(err)
	}
	owned := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ro-app", Name: "workers-abcde", Labels: map[string]string{"app": "workers"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "workers", UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "w", Image: "busybox"}}},
	}
	if err := env.Client.Create(ctx, owned); err != nil {
		t.Fatal(err)
	}
	var origJob batchv1.Job
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ro-app", Name: "migrate"}, &origJob); err != nil {
		t.Fatal(err)
	}
	restoreBackup(t, env, "ro-backup", "--include-namespaces", "ro-app")
	// A pod on a node waits for its kubelet to confirm its deletion, and
	// there is none.
	env.MustKubectl("-n", "ro-app", "delete", "pod", "app", "--grace-period=0", "--force")
	restoreDeleteNamespace(t, env, "ro-app")

	res, r := restoreRun(t, env, "ro-restore", "ro-backup")
	if res.Err != nil || r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 {
		t.Fatalf("restore: err %v, status %+v\n%s\nresults: %+v", res.Err, r.Status, res.Output(), restoreResultsFile(t, env, "ro-backup", "ro-restore"))
	}
	// The only possible warnings: what the controller-manager puts in every
	// new namespace may be there before the restore gets to it.
	results := restoreResultsFile(t, env, "ro-backup", "ro-restore")
	for _, w := range results["warnings"].Namespaces["ro-app"] {
		if w != "ServiceAccount ro-app/default already exists, left as it is (never overwritten)" &&
			w != "ConfigMap ro-app/kube-root-ca.crt already exists, left as it is (never overwritten)" {
			t.Errorf("unexpected warning: %s", w)
		}
	}
	if w := results["warnings"]; len(w.Ark)+len(w.Cluster) != 0 || len(w.Namespaces) > 1 || r.Status.Warnings != len(w.Namespaces["ro-app"]) {
		t.Errorf("warnings: status says %d, results %+v", r.Status.Warnings, w)
	}

	// Everything but the controlled pod came back, created by the restore
	// unless the controller-manager was first.
	created := restoreCreatedObjects(t, env, "ro-restore")
	want := []string{"namespaces ro-app", "secrets ro-app/registry", "secrets ro-app/creds", "configmaps ro-app/settings",
		"serviceaccounts ro-app/robot", "pods ro-app/app", "services ro-app/web", "jobs.batch ro-app/migrate", "replicasets.apps ro-app/workers"}
	for _, optional := range []string{"serviceaccounts ro-app/default", "configmaps ro-app/kube-root-ca.crt"} {
		for _, c := range created {
			if c == optional {
				want = append(want, optional)
			}
		}
	}
	if strings.Join(created, "\n") != strings.Join(sortedStrings(want), "\n") {
		t.Fatalf("the restore created:\n %v\nwant:\n %v", created, sortedStrings(want))
	}
	if r.Status.Progress.ItemsRestored != len(want)-1 || r.Status.Progress.TotalItems != 10 {
		t.Errorf("progress %+v: want %d restored of 10 (the controlled pod is not counted)", r.Status.Progress, len(want)-1)
	}
	restoreRequireAbsent(t, env, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ro-app", Name: "workers-abcde"}})

	// Tiers in order: the priorities, then the rest alphabetically.
	logs := env.MustArk("restore", "logs", "ro-restore")
	var order []string
	for _, m := range regexp.MustCompile(`msg="restoring resource" restore=ro-restore resource=(\S+)`).FindAllStringSubmatch(logs, -1) {
		order = append(order, m[1])
	}
	wantOrder := "serviceaccounts secrets configmaps pods jobs.batch replicasets.apps services"
	if strings.Join(order, " ") != wantOrder {
		t.Errorf("restore order %v, want %s\n%s", order, wantOrder, logs)
	}

	// Built-in actions.
	var pod corev1.Pod
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ro-app", Name: "app"}, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.NodeName != "" || pod.Spec.ServiceAccountName != "robot" || len(pod.Spec.ImagePullSecrets) != 1 || len(pod.Spec.Containers[0].EnvFrom) != 2 {
		t.Errorf("restored pod spec: %+v", pod.Spec)
	}
	tokenVolumes := 0
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			tokenVolumes++
		}
	}
	if tokenVolumes != 1 {
		t.Errorf("restored pod has %d token volumes, want the one of the new cluster: %+v", tokenVolumes, pod.Spec.Volumes)
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ro-app", Name: "web"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 || svc.Spec.ClusterIP == "" {
		t.Errorf("restored service: %+v", svc.Spec)
	}
	var job batchv1.Job
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ro-app", Name: "migrate"}, &job); err != nil {
		t.Fatal(err)
	}
	uid := string(job.UID)
	if job.UID == origJob.UID || job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != uid ||
		job.Spec.Template.Labels["batch.kubernetes.io/controller-uid"] != uid || job.Spec.Template.Labels["controller-uid"] != uid {
		t.Errorf("restored job keeps the old controller-uid: selector %v, template labels %v, uid %s", job.Spec.Selector, job.Spec.Template.Labels, job.UID)
	}
}
