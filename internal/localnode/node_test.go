package localnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	clientexec "k8s.io/client-go/util/exec"
)

// These tests run the node against a fake clientset: they check the node's
// own logic (processes, volumes, status, the kubelet API's exec and logs
// through the kubelet's streaming code) without an API server. The
// localcluster tests run it against the real one, through kubectl.

type testNode struct {
	n      *Node
	client kubernetes.Interface
	pki    PKI
}

func startTestNode(t *testing.T) *testNode {
	t.Helper()
	pki, err := EnsurePKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	log := &lockedBuffer{}
	n, err := Start(t.Context(), Config{
		Client: client, Dir: t.TempDir(), Version: "v1.34.4",
		CertFile: pki.KubeletCert, KeyFile: pki.KubeletKey, ClientCAFile: pki.CA,
		Log: log,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("node log:\n%s", log.String())
		}
	})
	return &testNode{n: n, client: client, pki: pki}
}

func (tn *testNode) createPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	pod.Spec.NodeName = tn.n.Name()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	if pod.UID == "" {
		pod.UID = types.UID("uid-" + pod.Name)
	}
	created, err := tn.client.CoreV1().Pods(pod.Namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func (tn *testNode) waitPod(t *testing.T, pod *corev1.Pod, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := tn.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("waiting for pod %s to be %s: %v; last status: %+v", pod.Name, what, err, last.Status)
	}
	return last
}

func running(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready
}

func (tn *testNode) restConfig() *rest.Config {
	return &rest.Config{
		Host: "https://127.0.0.1:" + strconv.Itoa(tn.n.Port()),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: tn.pki.CA, CertFile: tn.pki.APIServerClientCrt, KeyFile: tn.pki.APIServerClientKey,
		},
	}
}

type execResult struct {
	stdout, stderr string
	code           int
	err            error
}

// exec runs a command through the kubelet API over SPDY (or WebSocket), as
// the API server does.
func (tn *testNode) exec(t *testing.T, websocket bool, pod *corev1.Pod, container string, stdin io.Reader, tty bool, cmd ...string) execResult {
	t.Helper()
	q := url.Values{"command": cmd, "output": {"1"}}
	if !tty {
		q.Set("error", "1")
	}
	if stdin != nil {
		q.Set("input", "1")
	}
	if tty {
		q.Set("tty", "1")
	}
	u, _ := url.Parse(fmt.Sprintf("%s/exec/%s/%s/%s?%s", tn.restConfig().Host, pod.Namespace, pod.Name, container, q.Encode()))
	var ex remotecommand.Executor
	var err error
	if websocket {
		ex, err = remotecommand.NewWebSocketExecutor(tn.restConfig(), "GET", u.String())
	} else {
		ex, err = remotecommand.NewSPDYExecutor(tn.restConfig(), "POST", u)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	opts := remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Tty: tty}
	if !tty {
		opts.Stderr = &errOut
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res := execResult{}
	res.err = ex.StreamWithContext(ctx, opts)
	res.stdout, res.stderr = out.String(), errOut.String()
	var ce clientexec.CodeExitError
	if errors.As(res.err, &ce) {
		res.code = ce.Code
	}
	return res
}

func (tn *testNode) logs(t *testing.T, pod *corev1.Pod, container, query string) (int, string) {
	t.Helper()
	tlsCfg, err := tn.pki.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 30 * time.Second}
	resp, err := client.Get(fmt.Sprintf("%s/containerLogs/%s/%s/%s?%s", tn.restConfig().Host, pod.Namespace, pod.Name, container, query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestPodRunsWithVolumesExecAndLogs(t *testing.T) {
	tn := startTestNode(t)
	hostDir := t.TempDir()
	dirType := corev1.HostPathDirectory
	pod := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"tier": "web"}},
		Spec: corev1.PodSpec{
			Volumes: []corev1.Volume{
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirType}}},
			},
			InitContainers: []corev1.Container{{
				Name: "prepare", Image: "busybox",
				Command:      []string{"sh", "-c", "echo from-init > /data/init-marker"},
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/data"}},
			}},
			Containers: []corev1.Container{{
				Name: "main", Image: "busybox",
				Command: []string{"sh", "-c"},
				Args:    []string{"echo started $(GREETING) $TIER; cat /data/init-marker; echo to-stderr >&2; echo $$$$ > /host/pid; exec sleep 600"},
				Env: []corev1.EnvVar{
					{Name: "GREETING", Value: "hello"},
					{Name: "TIER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/data"}, {Name: "host", MountPath: "/host"}},
			}},
		},
	})
	got := tn.waitPod(t, pod, "Running", running)
	if got.Status.PodIP != "127.0.0.1" || got.Status.InitContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("status: %+v", got.Status)
	}

	// SPDY is what the API server speaks to a kubelet; it translates a
	// client's WebSocket (kubectl's default) to it. The localcluster test
	// covers that path through the real API server and kubectl.
	for _, ws := range []bool{false} {
		name := map[bool]string{false: "SPDY", true: "WebSocket"}[ws]
		r := tn.exec(t, ws, pod, "main", nil, false, "sh", "-c", "echo "+name+" > /data/f && cat /data/f && cp /data/f /host/copy")
		if r.err != nil || r.stdout != name+"\n" {
			t.Fatalf("%s exec: %+v", name, r)
		}
		if data, err := os.ReadFile(filepath.Join(hostDir, "copy")); err != nil || string(data) != name+"\n" {
			t.Fatalf("%s: hostPath volume holds %q (%v)", name, data, err)
		}
		r = tn.exec(t, ws, pod, "main", nil, false, "sh", "-c", "echo bad >&2; exit 7")
		if r.code != 7 || r.stderr != "bad\n" {
			t.Fatalf("%s exec with exit 7: %+v", name, r)
		}
	}
	r := tn.exec(t, false, pod, "main", strings.NewReader("from stdin"), false, "cat")
	if r.err != nil || r.stdout != "from stdin" {
		t.Fatalf("exec with stdin: %+v", r)
	}
	r = tn.exec(t, false, pod, "main", strings.NewReader(""), true, "sh", "-c", "test -t 0 && echo has-a-tty")
	if r.err != nil || !strings.Contains(r.stdout, "has-a-tty") {
		t.Fatalf("exec with tty: %+v", r)
	}
	r = tn.exec(t, false, pod, "main", nil, false, "no-such-command-here")
	if r.err == nil || !strings.Contains(r.err.Error(), "executable file not found") {
		t.Fatalf("exec of a missing command: %+v", r)
	}
	r = tn.exec(t, false, pod, "nope", nil, false, "true")
	if r.err == nil || !strings.Contains(r.err.Error(), `container "nope" not found`) {
		t.Fatalf("exec into a missing container: %+v", r)
	}

	// stdout and stderr are two pipes, so their lines interleave as they
	// are read, as with a real container runtime.
	code, body := tn.logs(t, pod, "main", "")
	if code != http.StatusOK || len(body) != len("started hello web\nfrom-init\nto-stderr\n") ||
		!strings.Contains(body, "started hello web\n") || !strings.Contains(body, "from-init\n") || !strings.Contains(body, "to-stderr\n") {
		t.Fatalf("logs: %d %q", code, body)
	}
	if _, body := tn.logs(t, pod, "main", "stream=Stdout"); body != "started hello web\nfrom-init\n" {
		t.Fatalf("stdout logs: %q", body)
	}
	if _, body := tn.logs(t, pod, "main", "stream=Stderr"); body != "to-stderr\n" {
		t.Fatalf("stderr logs: %q", body)
	}
	if _, body := tn.logs(t, pod, "main", "tailLines=1&timestamps=true&stream=Stdout"); !strings.HasSuffix(body, " from-init\n") || !strings.HasPrefix(body, "20") {
		t.Fatalf("tail with timestamps: %q", body)
	}
	if code, body := tn.logs(t, pod, "main", "previous=true"); code != http.StatusBadRequest || !strings.Contains(body, "previous terminated container") {
		t.Fatalf("previous logs of a first start: %d %q", code, body)
	}
	if code, body := tn.logs(t, pod, "main", "tailLines=x"); code != http.StatusBadRequest || !strings.Contains(body, "tailLines") {
		t.Fatalf("bad tailLines: %d %q", code, body)
	}

	// A client without the API server's certificate is turned away.
	tlsCfg, _ := tn.pki.ClientTLS()
	tlsCfg.Certificates = nil
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 10 * time.Second}
	if resp, err := anon.Get(tn.restConfig().Host + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s", resp.Status)
	}

	// Graceful deletion: the API server sets deletionTimestamp; the node
	// stops the processes and removes the object.
	pidData, err := os.ReadFile(filepath.Join(hostDir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidData)))
	cur, err := tn.client.CoreV1().Pods("default").Get(t.Context(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	grace := int64(30)
	cur.DeletionTimestamp, cur.DeletionGracePeriodSeconds = &now, &grace
	if _, err := tn.client.CoreV1().Pods("default").Update(t.Context(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := tn.client.CoreV1().Pods("default").Get(ctx, "app", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("the node did not remove the deleted pod's object")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("container process %d still exists after deletion (kill -0: %v)", pid, err)
	}
	if _, err := os.Stat(filepath.Join(tn.n.cfg.Dir, "pods", string(pod.UID))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pod's directory was not removed: %v", err)
	}
}

func TestRestartPolicies(t *testing.T) {
	tn := startTestNode(t)
	never := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "never"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "c", Command: []string{"sh", "-c", "echo bye; exit 3"},
		}}},
	})
	always := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "always"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Command: []string{"sh", "-c", "echo run; exit 1"},
		}}},
	})
	done := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "onfailure"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{
			Name: "c", Command: []string{"true"},
		}}},
	})
	missing := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "missing"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "c", Command: []string{"no-such-binary-anywhere"},
		}}},
	})

	p := tn.waitPod(t, never, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("Never: %+v", p.Status.ContainerStatuses[0])
	}
	if _, body := tn.logs(t, never, "c", ""); body != "bye\n" {
		t.Fatalf("logs of an ended container: %q", body)
	}
	tn.waitPod(t, done, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	p = tn.waitPod(t, always, "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	if p.Status.Phase != corev1.PodRunning || p.Status.ContainerStatuses[0].LastTerminationState.Terminated == nil {
		t.Fatalf("Always: %+v", p.Status)
	}
	if code, body := tn.logs(t, always, "c", "previous=true"); code != http.StatusOK || body != "run\n" {
		t.Fatalf("previous logs: %d %q", code, body)
	}
	p = tn.waitPod(t, missing, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "StartError" || !strings.Contains(term.Message, "executable file not found") {
		t.Fatalf("missing command: %+v", p.Status.ContainerStatuses[0])
	}
}

func TestContainerWithoutCommandGetsPlaceholder(t *testing.T) {
	tn := startTestNode(t)
	pod := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.7.9"}}},
	})
	tn.waitPod(t, pod, "Running", running)
	r := tn.exec(t, false, pod, "nginx", nil, false, "sh", "-c", "echo $HOSTNAME")
	if r.err != nil || r.stdout != "nginx\n" {
		t.Fatalf("exec: %+v", r)
	}
}

func TestUnsupportedVolumeIsExplained(t *testing.T) {
	tn := startTestNode(t)
	pod := tn.createPod(t, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nfs"},
		Spec: corev1.PodSpec{
			Volumes:    []corev1.Volume{{Name: "share", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "x", Path: "/"}}}},
			Containers: []corev1.Container{{Name: "c", Command: []string{"true"}}},
		},
	})
	p := tn.waitPod(t, pod, "waiting with a reason", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, "not supported by the local node")
	})
	if p.Status.Phase != corev1.PodPending {
		t.Fatalf("phase %s", p.Status.Phase)
	}
}

// lockedBuffer lets the node's goroutines share a test buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
