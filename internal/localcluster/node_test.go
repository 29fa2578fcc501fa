package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// TestMain lets a test use this test binary as the node of a detached
// cluster (Options.NodeCommand), as hack/localcluster uses itself.
func TestMain(m *testing.M) {
	if dir := os.Getenv(NodeDirEnv); dir != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := RunNode(ctx, dir)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// kubectl runs the real kubectl of the testbin against the cluster.
type kubectl struct {
	t    *testing.T
	bin  string
	cfg  string
	home string
}

func newKubectl(t *testing.T, c *Cluster) *kubectl {
	return &kubectl{t: t, bin: mustTestbin(t).Kubectl, cfg: c.Kubeconfig, home: t.TempDir()}
}

// run returns stdout, stderr and the exit code.
func (k *kubectl) run(stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	return k.runEnv(nil, stdin, args...)
}

func (k *kubectl) runEnv(env []string, stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(k.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.cfg}, args...)...)
	// kubectl keeps a discovery cache under $HOME/.kube.
	cmd.Env = append(append(os.Environ(), "HOME="+k.home), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		k.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// must runs kubectl and fails the test unless it exits 0.
func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.run("", args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func waitPodRunning(t *testing.T, kube kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, "pod "+ns+"/"+name+" to run", func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, ignoreNotFound(err)
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning && podReady(p), nil
	})
	return pod
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TestNodeRunsPodsWithExecAndLogs is the node through the real API server and
// the real kubectl: a pod with an emptyDir and a hostPath volume runs,
// `kubectl exec` writes into the volumes and reads back with exit codes
// passed on, `kubectl logs` shows the container's output, a Deployment's
// pods are scheduled and run, and deleting a pod and a namespace finishes.
func TestNodeRunsPodsWithExecAndLogs(t *testing.T) {
	// The protection controllers lift the finalizers the API server puts on
	// claims and volumes; without them the namespace with a claim would
	// never finish deleting.
	controllers := append(slices.Clone(DefaultControllers), "persistentvolumeclaim-protection-controller", "persistentvolume-protection-controller")
	c := StartForTest(t, Options{Controllers: controllers, Workloads: true})
	ctx := t.Context()
	kube := kubeClient(t, c)
	k := newKubectl(t, c)
	ns := createNamespace(t, kube, "node-test")
	waitFor(t, "default ServiceAccount in "+ns, func() (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})

	// The Node as the API server sees it.
	node, err := kube.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("node %s: %v", NodeName, err)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 || len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != "127.0.0.1" {
		t.Fatalf("node status: %+v", node.Status)
	}
	if err := c.CheckNode(ctx); err != nil {
		t.Fatalf("CheckNode: %v", err)
	}
	if out := k.must("get", "nodes", "-o", "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")].status}"); out != "True" {
		t.Fatalf("kubectl get nodes: Ready = %q", out)
	}

	hostDir := t.TempDir()
	dirType := corev1.HostPathDirectory
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName: NodeName,
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirType}}},
			},
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox",
				Command:      []string{"sh", "-c", "echo started in $(MODE) mode; echo $$$$ > /host/pid; exec sleep 3600"},
				Env:          []corev1.EnvVar{{Name: "MODE", Value: "test"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "host", MountPath: "/host"}},
			}},
		},
	}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	running := waitPodRunning(t, kube, ns, "app")
	if running.Status.PodIP != "127.0.0.1" || running.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("running pod status: %+v", running.Status)
	}

	// exec: writes into the emptyDir, reads it back, copies it into the
	// hostPath volume, whose directory the test reads.
	out, errOut, code := k.run("", "-n", ns, "exec", "app", "-c", "main", "--", "sh", "-c", "echo hello > /data/f && cat /data/f && cp /data/f /host/copied")
	if code != 0 || out != "hello\n" {
		t.Fatalf("kubectl exec: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if data, err := os.ReadFile(filepath.Join(hostDir, "copied")); err != nil || string(data) != "hello\n" {
		t.Fatalf("hostPath volume: %q, %v", data, err)
	}
	// kubectl speaks WebSocket to the API server, which speaks SPDY to the
	// node; with WebSockets off, kubectl speaks SPDY all the way.
	for _, env := range [][]string{nil, {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}} {
		out, errOut, code = k.runEnv(env, "", "-n", ns, "exec", "app", "--", "sh", "-c", "cat /data/f; echo failing >&2; exit 3")
		if code != 3 || out != "hello\n" || !strings.Contains(errOut, "failing") {
			t.Fatalf("kubectl exec (%v) of a failing command: exit %d (want 3), stdout %q, stderr %q", env, code, out, errOut)
		}
	}
	out, errOut, code = k.run("piped in\n", "-n", ns, "exec", "-i", "app", "--", "sh", "-c", "cat > /data/g; cat /data/g")
	if code != 0 || out != "piped in\n" {
		t.Fatalf("kubectl exec -i: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = k.run("", "-n", ns, "exec", "app", "--", "definitely-not-a-command")
	if code == 0 || !strings.Contains(errOut, "executable file not found") {
		t.Fatalf("kubectl exec of a missing command: exit %d, stderr %q", code, errOut)
	}

	// logs, and logs -f of a container that ends.
	if out := k.must("-n", ns, "logs", "app"); out != "started in test mode\n" {
		t.Fatalf("kubectl logs: %q", out)
	}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "counter", Namespace: ns},
		Spec: corev1.PodSpec{NodeName: NodeName, RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "c", Image: "busybox", Command: []string{"sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done"},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod counter to start", func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, "counter", metav1.GetOptions{})
		return err == nil && p.Status.Phase != corev1.PodPending, err
	})
	if out := k.must("-n", ns, "logs", "-f", "counter"); out != "line 1\nline 2\nline 3\n" {
		t.Fatalf("kubectl logs -f: %q", out)
	}
	waitFor(t, "pod counter to succeed", func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, "counter", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodSucceeded, err
	})

	// A Deployment: the controllers make the pods, the scheduler binds
	// them, the node runs them (nginx has no command: an idle process
	// stands in).
	labels := map[string]string{"app": "web"}
	if _, err := kube.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.7.9"}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	waitFor(t, "deployment web to have 2 ready replicas", func() (bool, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2, err
	})
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("deployment has %d pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != NodeName || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("deployment pod %s: node %q phase %s", p.Name, p.Spec.NodeName, p.Status.Phase)
		}
		if !hasCondition(p, corev1.PodScheduled) {
			t.Fatalf("deployment pod %s has no PodScheduled condition: %+v", p.Name, p.Status.Conditions)
		}
	}
	if out := k.must("-n", ns, "exec", "deploy/web", "--", "sh", "-c", "echo $HOSTNAME"); !strings.HasPrefix(out, "web-") {
		t.Fatalf("exec into the deployment: %q", out)
	}

	// A claim names its hostPath PersistentVolume (the cluster runs no
	// binder): the pod's mount is the volume's directory.
	pvDir := t.TempDir()
	if _, err := kube.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "node-test-pv"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: "claim"},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.CoreV1().PersistentVolumes().Delete(context.Background(), "node-test-pv", metav1.DeleteOptions{})
	})
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "claim"},
		Spec: corev1.PersistentVolumeClaimSpec{
			VolumeName:  "node-test-pv",
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "with-claim"},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}}}},
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox", Command: []string{"sleep", "3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/var/log/app"}},
			}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodRunning(t, kube, ns, "with-claim")
	k.must("-n", ns, "exec", "with-claim", "--", "sh", "-c", "echo marker > /var/log/app/marker")
	if data, err := os.ReadFile(filepath.Join(pvDir, "marker")); err != nil || string(data) != "marker\n" {
		t.Fatalf("PersistentVolume directory holds %q (%v)", data, err)
	}

	// A pod that does not fit stays Pending, and says why.
	if _, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "misfit"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"disktype": "tape"},
			Containers:   []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod misfit to be reported unschedulable", func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, "misfit", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
				strings.Contains(c.Message, "didn't match Pod's node affinity/selector") {
				return p.Spec.NodeName == "", nil
			}
		}
		return false, nil
	})

	// kubectl delete pod waits for the node to stop the processes and
	// remove the object.
	pidData, err := os.ReadFile(filepath.Join(hostDir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if err != nil {
		t.Fatalf("pid file: %q", pidData)
	}
	k.must("-n", ns, "delete", "pod", "app", "--timeout=90s")
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod app after kubectl delete: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the container's process %d survived its pod (kill -0: %v)", pid, err)
	}

	// Deleting the namespace finishes: the node removes the Deployment's
	// pods as the namespace controller deletes them.
	k.must("delete", "namespace", ns, "--timeout=120s")
	if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace after kubectl delete: %v", err)
	}
}

func hasCondition(p corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
