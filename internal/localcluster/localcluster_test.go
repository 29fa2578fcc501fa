package localcluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestClusterWithMinIO is the end-to-end check: real etcd, apiserver,
// controller-manager and MinIO, used through client-go and aws-sdk-go-v2.
func TestClusterWithMinIO(t *testing.T) {
	c := StartForTest(t, Options{MinIO: true})
	ctx := t.Context()

	kube := kubeClient(t, c)
	ns := createNamespace(t, kube, "holds-objects")

	// A ConfigMap round trip through the apiserver and etcd.
	want := map[string]string{"greeting": "hello"}
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: want,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap: %v", err)
	}
	got, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ConfigMap: %v", err)
	}
	if got.Data["greeting"] != "hello" {
		t.Fatalf("ConfigMap data = %v, want %v", got.Data, want)
	}

	// The controller-manager's controllers act in the new namespace.
	waitFor(t, "default ServiceAccount in "+ns, func() (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})
	waitFor(t, "kube-root-ca.crt ConfigMap in "+ns, func() (bool, error) {
		_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	})

	// Garbage collection: deleting an owner removes what it owns.
	owner, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create owner: %v", err)
	}
	if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name:            "owned",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create owned: %v", err)
	}
	background := metav1.DeletePropagationBackground
	if err := kube.CoreV1().ConfigMaps(ns).Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatalf("delete owner: %v", err)
	}
	waitFor(t, "garbage collection of the owned ConfigMap", func() (bool, error) {
		_, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "owned", metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})

	// Namespace deletion finishes only when the namespace controller has
	// emptied it.
	if err := kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete namespace: %v", err)
	}
	waitFor(t, "namespace "+ns+" to be gone", func() (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), ignoreNotFound(err)
	})

	// MinIO: a bucket and an object through the S3 API, with SigV4.
	if c.MinIO == nil {
		t.Fatal("Cluster.MinIO is nil although Options.MinIO was set")
	}
	s3c := s3Client(c.MinIO.Endpoint, c.MinIO.AccessKey, c.MinIO.SecretKey)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ark-backups")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("ark-backups"), Key: aws.String("hello.txt"), Body: bytes.NewReader([]byte("hi")),
	}); err != nil {
		t.Fatalf("put object: %v", err)
	}
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ark-backups"), Key: aws.String("hello.txt")})
	if err != nil {
		t.Fatalf("get object: %v", err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(body) != "hi" {
		t.Fatalf("object body = %q, want %q", body, "hi")
	}
	wrong := s3Client(c.MinIO.Endpoint, c.MinIO.AccessKey, "not-the-secret")
	if _, err := wrong.ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
		t.Fatal("MinIO accepted a wrong secret key")
	}

	// The kubeconfig on disk works as well as RESTConfig.
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("use kubeconfig %s: %v", c.Kubeconfig, err)
	}
	env, err := os.ReadFile(c.EnvFile)
	if err != nil || !strings.Contains(string(env), "export KUBECONFIG='"+c.Kubeconfig+"'") {
		t.Fatalf("env file %s = %q (%v), want it to export KUBECONFIG", c.EnvFile, env, err)
	}

	procs := c.Processes()
	if len(procs) != 4 {
		t.Fatalf("started %d processes, want 4 (etcd, minio, kube-apiserver, kube-controller-manager): %+v", len(procs), procs)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertGone(t, procs)
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

// TestRestartKeepsData checks what `down` then `up` on one directory relies
// on: the same data, a working kubeconfig, the same MinIO credentials.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	first := StartForTest(t, Options{Dir: dir, MinIO: true, NoControllerManager: true})
	ns := createNamespace(t, kubeClient(t, first), "survives")
	firstMinIO := *first.MinIO
	s3c := s3Client(firstMinIO.Endpoint, firstMinIO.AccessKey, firstMinIO.SecretKey)
	if _, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("kept")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	procs := first.Processes()
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertGone(t, procs)

	second := StartForTest(t, Options{Dir: dir, MinIO: true, NoControllerManager: true})
	if _, err := kubeClient(t, second).CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace %s after restart: %v", ns, err)
	}
	if second.MinIO.AccessKey != firstMinIO.AccessKey || second.MinIO.SecretKey != firstMinIO.SecretKey {
		t.Fatalf("MinIO credentials changed across a restart")
	}
	s3c = s3Client(second.MinIO.Endpoint, second.MinIO.AccessKey, second.MinIO.SecretKey)
	if _, err := s3c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String("kept")}); err != nil {
		t.Fatalf("bucket after restart: %v", err)
	}
}

// TestOpenStopsDetachedCluster is the path of `up` then `down`: the cluster
// is found again from its directory and stopped by its recorded PIDs. The
// node runs as a process of its own (this test binary, see TestMain), and
// stopping it stops its pods' processes.
func TestOpenStopsDetachedCluster(t *testing.T) {
	dir := t.TempDir()
	c := StartForTest(t, Options{Dir: dir, Detach: true, NoControllerManager: true, NodeCommand: []string{os.Args[0]}})
	procs := c.Processes()
	if n := len(procs); n != 3 || procs[2].Name != "node" {
		t.Fatalf("processes %+v, want etcd, kube-apiserver and node", procs)
	}
	if err := c.CheckNode(t.Context()); err != nil {
		t.Fatalf("CheckNode: %v", err)
	}
	// No controller manager: make the ServiceAccount pods need by hand.
	kube := kubeClient(t, c)
	if _, err := kube.CoreV1().ServiceAccounts("default").Create(t.Context(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ServiceAccount: %v", err)
	}
	hostDir := t.TempDir()
	if _, err := kube.CoreV1().Pods("default").Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper"},
		Spec: corev1.PodSpec{
			NodeName:                     NodeName, // no scheduler without Options.Workloads
			AutomountServiceAccountToken: new(bool),
			Volumes:                      []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}},
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox", Command: []string{"sh", "-c", "echo $$$$ > /host/pid; exec sleep 3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
			}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	waitPodRunning(t, kube, "default", "sleeper")
	pidData, err := os.ReadFile(filepath.Join(hostDir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	podPID, err := strconv.Atoi(strings.TrimSpace(string(pidData)))
	if err != nil {
		t.Fatalf("pid file: %q", pidData)
	}

	if _, err := Start(t.Context(), Options{Binaries: mustTestbin(t), Dir: dir}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start on a running directory: err = %v, want 'already running'", err)
	}

	opened, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	opened.log = testLog{t}
	if opened.Kubeconfig != c.Kubeconfig || opened.APIServer != c.APIServer {
		t.Fatalf("Open found %s/%s, want %s/%s", opened.Kubeconfig, opened.APIServer, c.Kubeconfig, c.APIServer)
	}
	for _, p := range opened.Processes() {
		if !p.Running {
			t.Fatalf("Open sees %s (pid %d) as stopped while it runs", p.Name, p.PID)
		}
	}
	if _, err := kubernetes.NewForConfigOrDie(opened.RESTConfig()).CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("RESTConfig of an opened cluster: %v", err)
	}
	if err := opened.Stop(); err != nil {
		t.Fatalf("Stop of an opened cluster: %v", err)
	}
	assertGone(t, append(procs, ProcessInfo{Name: "pod sleeper's container", PID: podPID}))
	for _, p := range opened.Processes() {
		if p.Running {
			t.Fatalf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
}

// The tests below need no binaries: fake servers are shell scripts.

func TestTestbinNamesMissingBinaries(t *testing.T) {
	root := t.TempDir()
	_, err := Testbin(root)
	if err == nil {
		t.Fatal("Testbin of an empty directory succeeded")
	}
	for _, want := range []string{"kube-" + KubeVersion + "/kube-apiserver", "etcd-" + EtcdVersion + "/etcd", "minio-" + MinIOVersion + "/minio", "hack/build-testbin.sh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	for _, p := range []string{"kube-" + KubeVersion + "/kube-apiserver", "kube-" + KubeVersion + "/kube-controller-manager", "kube-" + KubeVersion + "/kubectl", "etcd-" + EtcdVersion + "/etcd", "minio-" + MinIOVersion + "/minio"} {
		writeScript(t, filepath.Join(root, p), "exit 0")
	}
	b, err := Testbin(root)
	if err != nil {
		t.Fatalf("Testbin of a complete directory: %v", err)
	}
	if b.Etcd != filepath.Join(root, "etcd-"+EtcdVersion, "etcd") {
		t.Fatalf("Etcd = %s", b.Etcd)
	}
}

func TestStartRejectsMissingBinaries(t *testing.T) {
	_, err := Start(t.Context(), Options{Dir: t.TempDir(), MinIO: true})
	if err == nil {
		t.Fatal("Start without binaries succeeded")
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "minio", "Testbin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestStartReportsEarlyExitWithLog(t *testing.T) {
	bin := t.TempDir()
	etcd := writeScript(t, filepath.Join(bin, "etcd"), `echo "flag provided but not defined: -bogus" >&2; exit 3`)
	_, err := Start(t.Context(), Options{
		Binaries: Binaries{Etcd: etcd, KubeAPIServer: etcd},
		Dir:      t.TempDir(), NoControllerManager: true,
	})
	if err == nil {
		t.Fatal("Start succeeded with an etcd that exits")
	}
	for _, want := range []string{"etcd", "exit status 3", "flag provided but not defined: -bogus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestStartRetriesLostPortThenGivesUp(t *testing.T) {
	bin := t.TempDir()
	dir := t.TempDir()
	etcd := writeScript(t, filepath.Join(bin, "etcd"), `echo "listen tcp 127.0.0.1:1: bind: address already in use" >&2; exit 1`)
	_, err := Start(t.Context(), Options{Binaries: Binaries{Etcd: etcd, KubeAPIServer: etcd}, Dir: dir, NoControllerManager: true})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("err = %v, want the port error", err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, logsDir, "etcd.log"))
	if n := strings.Count(string(log), "=== "); n != 4 {
		t.Fatalf("etcd was started %d times, want 4 (one try and three retries):\n%s", n, log)
	}
}

func TestStartTimesOutAndKillsWhatItStarted(t *testing.T) {
	bin := t.TempDir()
	// Never answers on its port: readiness can only time out.
	etcd := writeScript(t, filepath.Join(bin, "etcd"), `echo waiting; exec sleep 600`)
	dir := t.TempDir()
	_, err := Start(t.Context(), Options{
		Binaries: Binaries{Etcd: etcd, KubeAPIServer: etcd},
		Dir:      dir, NoControllerManager: true, ReadyTimeout: 2 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "waiting") {
		t.Fatalf("err = %v, want a readiness timeout with the log tail", err)
	}
	s, err := readState(dir)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	if len(s.Processes) != 1 {
		t.Fatalf("state records %d processes, want 1", len(s.Processes))
	}
	assertGone(t, []ProcessInfo{{Name: "etcd", PID: s.Processes[0].PID}})
}

func TestOpenWithoutClusterSaysHowToStartOne(t *testing.T) {
	_, err := Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "up --dir") {
		t.Fatalf("err = %v, want a hint to run up", err)
	}
}

func TestShellQuote(t *testing.T) {
	if got := shellQuote("/tmp/it's here"); got != `'/tmp/it'\''s here'` {
		t.Fatalf("shellQuote = %s", got)
	}
}

func TestTailFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("a\nb\nc\nd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := tailFile(p, 2); got != "c\nd" {
		t.Fatalf("tailFile = %q", got)
	}
}

func writeScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustTestbin(t *testing.T) Binaries {
	t.Helper()
	return TestBinaries(t)
}

func kubeClient(t *testing.T, c *Cluster) kubernetes.Interface {
	t.Helper()
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return kube
}

func createNamespace(t *testing.T, kube kubernetes.Interface, name string) string {
	t.Helper()
	if _, err := kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

func s3Client(endpoint, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
}

// waitFor polls cond until it holds. The bound is generous: it catches a
// controller that never acts, not a slow one.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// assertGone fails unless no process has any of the PIDs any more.
func assertGone(t *testing.T, procs []ProcessInfo) {
	t.Helper()
	if len(procs) == 0 {
		t.Fatal("no processes to check")
	}
	for _, p := range procs {
		err := syscall.Kill(p.PID, 0)
		if err == nil && sameProcessAlive(p.PID, 0) {
			t.Errorf("%s (pid %d) is still running after Stop", p.Name, p.PID)
		} else if err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d): kill -0: %v", p.Name, p.PID, err)
		}
	}
}
