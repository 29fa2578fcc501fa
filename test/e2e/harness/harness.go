// Package harness runs Ark end to end for tests: a real local cluster (etcd,
// kube-apiserver, kube-controller-manager), real MinIO, the CRDs, the real
// `ark` binary as the server (there is no kubelet, so the server runs as a
// process beside the cluster, like `ark server --kubeconfig`) and as the CLI.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/internal/testproc"
)

// Namespace is where Ark's objects live in these tests, as in the docs.
const Namespace = arkv1.DefaultNamespace

// Env is one running Ark installation.
type Env struct {
	T         testing.TB
	Cluster   *localcluster.Cluster
	Client    client.Client
	Dynamic   dynamic.Interface
	Bucket    string
	Dir       string
	CredsFile string

	server *exec.Cmd
	// serverDone is closed when the server process has exited.
	serverDone chan struct{}
	serverLog  string
	serverArgs []string
	// ServerEnv is extra environment of the server; change it before
	// StartServer.
	ServerEnv []string
	// MetricsAddr and HealthAddr are where the running server serves
	// /metrics and /healthz, /readyz.
	MetricsAddr, HealthAddr string
	// ServerExit is the exit error of the last stopped server (nil: exit 0).
	ServerExit error
}

// Options choose how Ark is set up.
type Options struct {
	// NoServer leaves the server stopped (StartServer starts it).
	NoServer bool
	// NoConfig creates no Config.
	NoConfig bool
	// ServerArgs are extra flags for `ark server`.
	ServerArgs []string
	// ServerEnv is extra environment for `ark server` (credentials and
	// endpoints of other providers, e.g. STORAGE_EMULATOR_HOST).
	ServerEnv []string
	// Cluster reuses a running cluster (a second Ark on the same bucket
	// uses a new cluster and the first one's MinIO: see Bucket).
	Cluster *localcluster.Cluster
	// Bucket names the bucket; default "ark".
	Bucket string
	// MinIO is the MinIO to use; default the cluster's own.
	MinIO *localcluster.MinIO
}

var (
	buildOnce sync.Once
	arkBin    string
	buildErr  error
)

// ArkBinary builds the ark binary once per test process and returns its path.
func ArkBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ark-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		arkBin = filepath.Join(dir, "ark")
		cmd := exec.Command("go", "build", "-o", arkBin, "github.com/heptio/ark/cmd/ark")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ark: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return arkBin
}

// repoRoot is the module root, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// RepoPath returns a path inside the repository.
func RepoPath(parts ...string) string {
	return filepath.Join(append([]string{repoRoot()}, parts...)...)
}

// Start sets up a cluster with MinIO, Ark's CRDs and namespace, a bucket, a
// Config for it, and the server.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	ArkBinary(t)
	cluster := opts.Cluster
	if cluster == nil {
		cluster = localcluster.StartForTest(t, localcluster.Options{MinIO: true})
	}
	minio := opts.MinIO
	if minio == nil {
		minio = cluster.MinIO
	}
	e := &Env{T: t, Cluster: cluster, Bucket: opts.Bucket, Dir: t.TempDir(), serverArgs: opts.ServerArgs, ServerEnv: opts.ServerEnv}
	if e.Bucket == "" {
		e.Bucket = "ark"
	}
	var err error
	restConfig := cluster.RESTConfig()
	restConfig.QPS = -1 // no client-side limit, as the ark server by default, so baselines compare fairly
	e.Client, err = client.New(restConfig, client.Options{Scheme: arkv1.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	e.Dynamic = dynamic.NewForConfigOrDie(restConfig)
	InstallCRDs(t, e.Client)
	e.EnsureNamespace(Namespace)
	e.CredsFile = filepath.Join(e.Dir, "credentials-ark")
	creds := fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", minio.AccessKey, minio.SecretKey)
	if err := os.WriteFile(e.CredsFile, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	e.createBucket(minio)
	if !opts.NoConfig {
		e.ApplyConfig(MinIOConfig(minio.Endpoint, e.Bucket))
	}
	if !opts.NoServer {
		e.StartServer()
	}
	return e
}

// MinIOConfig is the Config of examples/minio, filled in.
func MinIOConfig(endpoint, bucket string) *arkv1.Config {
	return &arkv1.Config{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{
			CloudProviderConfig: arkv1.CloudProviderConfig{Name: "aws", Config: map[string]string{
				"region": "minio", "s3ForcePathStyle": "true", "s3Url": endpoint,
			}},
			Bucket: bucket,
		},
	}
}

// ApplyConfig creates or replaces Config default.
func (e *Env) ApplyConfig(cfg *arkv1.Config) {
	e.T.Helper()
	ctx := context.Background()
	var existing arkv1.Config
	err := e.Client.Get(ctx, client.ObjectKeyFromObject(cfg), &existing)
	if err == nil {
		cfg.ResourceVersion = existing.ResourceVersion
		err = e.Client.Update(ctx, cfg)
	} else {
		err = e.Client.Create(ctx, cfg)
	}
	if err != nil {
		e.T.Fatalf("applying Config: %v", err)
	}
}

func (e *Env) createBucket(m *localcluster.MinIO) {
	e.T.Helper()
	c := S3Client(m)
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(e.Bucket)})
	if err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		e.T.Fatalf("creating bucket %s: %v", e.Bucket, err)
	}
}

// S3Client talks to MinIO directly, to check what Ark stored.
func S3Client(m *localcluster.MinIO) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// EnsureNamespace creates a namespace if it is missing.
func (e *Env) EnsureNamespace(name string) {
	e.T.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := client.IgnoreAlreadyExists(e.Client.Create(context.Background(), ns)); err != nil {
		e.T.Fatalf("creating namespace %s: %v", name, err)
	}
}

// InstallCRDs applies config/crd/*.yaml and waits until each is Established.
func InstallCRDs(t testing.TB, c client.Client) {
	t.Helper()
	files, err := filepath.Glob(RepoPath("config", "crd", "ark.heptio.com_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs under config/crd (run make generate): %v", err)
	}
	ctx := context.Background()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := client.IgnoreAlreadyExists(c.Create(ctx, &crd)); err != nil {
			t.Fatalf("creating CRD %s: %v", crd.Name, err)
		}
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var got apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, &got); err != nil {
				return false, nil
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", crd.Name, err)
		}
	}
}

// freeAddr returns a free loopback address.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SetServerArgs replaces Options.ServerArgs for the next StartServer (e.g.
// a kubeconfig made once the cluster runs).
func (e *Env) SetServerArgs(args ...string) {
	e.serverArgs = args
}

// StartServer runs `ark server` against the cluster, logging to a file that
// is printed when the test fails. It is stopped (SIGTERM) at the end.
func (e *Env) StartServer() {
	e.T.Helper()
	if e.server != nil {
		e.T.Fatal("server already running")
	}
	e.serverLog = filepath.Join(e.Dir, fmt.Sprintf("server-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(e.serverLog)
	if err != nil {
		e.T.Fatal(err)
	}
	e.MetricsAddr, e.HealthAddr = freeAddr(e.T), freeAddr(e.T)
	args := append([]string{"server", "--kubeconfig", e.Cluster.Kubeconfig, "--namespace", Namespace,
		"--metrics-address", e.MetricsAddr, "--health-address", e.HealthAddr, "--log-level", "debug"}, e.serverArgs...)
	cmd := exec.Command(ArkBinary(e.T), args...)
	cmd.Env = append(append(e.baseEnv(), "AWS_SHARED_CREDENTIALS_FILE="+e.CredsFile), e.ServerEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		e.T.Fatalf("starting ark server: %v", err)
	}
	e.server = cmd
	done := make(chan struct{})
	e.serverDone = done
	go func() { e.ServerExit = cmd.Wait(); logFile.Close(); close(done) }()
	e.T.Cleanup(func() {
		if e.T.Failed() {
			e.T.Logf("ark server log (%s):\n%s", e.serverLog, tail(e.serverLog, 80))
		}
		e.StopServer()
	})
}

// BuildPlugin builds the plugin binary of the Go main package pkg, in the
// module at moduleDir (a path in the repository), into out.
func BuildPlugin(t testing.TB, moduleDir, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = RepoPath(moduleDir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s of %s: %v\n%s", pkg, moduleDir, err, b)
	}
}

// StopServer stops the server with SIGTERM (SIGKILL after 30s).
func (e *Env) StopServer() {
	if e.server == nil {
		return
	}
	_ = e.server.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.serverDone:
	case <-time.After(30 * time.Second):
		_ = e.server.Process.Kill()
		<-e.serverDone
	}
	e.server = nil
}

// KillServer kills the server at once, as a crash would.
func (e *Env) KillServer() {
	if e.server == nil {
		return
	}
	_ = e.server.Process.Kill()
	<-e.serverDone
	e.server = nil
}

// ServerLog returns what the server has logged so far.
func (e *Env) ServerLog() string {
	data, _ := os.ReadFile(e.serverLog)
	return string(data)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// baseEnv isolates the ark binary from the user's own configuration.
func (e *Env) baseEnv() []string {
	env := []string{"HOME=" + e.Dir, "ARK_CONFIG=" + filepath.Join(e.Dir, "ark-client.json"), "AWS_EC2_METADATA_DISABLED=true"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// Result is the outcome of one ark CLI invocation.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Output is stdout and stderr together.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// Ark runs the ark CLI with --kubeconfig set.
func (e *Env) Ark(args ...string) Result {
	return e.ArkWithEnv(nil, append([]string{"--kubeconfig", e.Cluster.Kubeconfig}, args...)...)
}

// ArkWithEnv runs the ark CLI with extra environment and exactly args.
func (e *Env) ArkWithEnv(env []string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ArkBinary(e.T), args...)
	cmd.Env = append(e.baseEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// MustArk runs the ark CLI and fails the test when it fails.
func (e *Env) MustArk(args ...string) string {
	e.T.Helper()
	r := e.Ark(args...)
	if r.Err != nil {
		e.T.Fatalf("ark %s: %v\n%s", strings.Join(args, " "), r.Err, r.Output())
	}
	return r.Stdout
}

// Kubectl runs the cluster's kubectl.
func (e *Env) Kubectl(args ...string) Result {
	bins, err := localcluster.Testbin(testproc.CacheDir())
	if err != nil {
		return Result{Err: err}
	}
	cmd := exec.Command(bins.Kubectl, append([]string{"--kubeconfig", e.Cluster.Kubeconfig}, args...)...)
	cmd.Env = e.baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// MustKubectl runs kubectl and fails the test when it fails.
func (e *Env) MustKubectl(args ...string) string {
	e.T.Helper()
	r := e.Kubectl(args...)
	if r.Err != nil {
		e.T.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), r.Err, r.Output())
	}
	return r.Stdout
}

// Eventually polls cond until it holds or timeout passes.
func (e *Env) Eventually(timeout time.Duration, what string, cond func() (bool, error)) {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	e.T.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

// ServerPID is the running server's process id.
func (e *Env) ServerPID() int {
	if e.server == nil {
		return 0
	}
	return e.server.Process.Pid
}
