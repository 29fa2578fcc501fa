// Package localcluster runs a real Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager), a node, and optionally MinIO on
// loopback ports, for integration tests and for the quickstart.
//
// The node (internal/localnode) runs pods as processes of this machine and
// serves the kubelet API, so kubectl exec and logs work; with
// Options.Workloads a minimal scheduler binds pending pods to it and
// Deployments get their pods. Images are not pulled: see
// docs/local-cluster.md.
// The cluster is for tests only: the apiserver authorizes every request
// (--authorization-mode AlwaysAllow) and authenticates one admin by a static
// token in the group system:masters.
//
// Tests use StartForTest, which finds the binaries through $ARK_TESTBIN_DIR
// (the directory printed by hack/build-testbin.sh). hack/localcluster runs the
// same code detached, for people.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/heptio/ark/internal/localnode"
)

// DefaultControllers are the kube-controller-manager controllers a cluster
// runs unless Options.Controllers says otherwise: enough for namespaces to be
// deleted, owner references to be collected, and every namespace to get its
// default ServiceAccount and kube-root-ca.crt ConfigMap as in a real cluster.
var DefaultControllers = []string{
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
}

// WorkloadControllers make Deployments get ReplicaSets and pods; with
// Options.Workloads they run, and the node's scheduler binds the pods.
var WorkloadControllers = []string{
	"deployment-controller",
	"replicaset-controller",
}

// Options configure Start.
type Options struct {
	// Binaries are the executables to run; see Testbin.
	Binaries Binaries
	// Dir holds the cluster's data, certificates, logs and kubeconfig. When
	// empty, Start makes a temporary directory and Stop removes it.
	Dir string
	// MinIO starts a MinIO server too.
	MinIO bool
	// MinIOAccessKey and MinIOSecretKey fix MinIO's root credentials. When
	// empty, the ones an earlier run on Dir used are kept, or new ones made.
	MinIOAccessKey, MinIOSecretKey string
	// NoControllerManager skips kube-controller-manager. Without it namespaces
	// never finish deleting and owned objects are never collected.
	NoControllerManager bool
	// Controllers overrides DefaultControllers.
	Controllers []string
	// NoNode skips the node: pods stay Pending, which is enough for tests
	// of API objects only.
	NoNode bool
	// Workloads makes the cluster act on workloads as a real one does:
	// the WorkloadControllers run (a Deployment gets a ReplicaSet and pods)
	// and the node's scheduler binds pods that name no node. Off, only pods
	// created with spec.nodeName run: tests that back up a Deployment, or
	// check that a restore clears a pod's nodeName, count on nothing else
	// acting. hack/localcluster (and so the quickstart) turns it on.
	Workloads bool
	// NodeCommand runs the node of a detached cluster as a process of its
	// own: a command that calls RunNode with $ARK_LOCALCLUSTER_NODE_DIR
	// (hack/localcluster runs itself with the hidden `node` command). An
	// attached cluster runs its node inside the calling process instead.
	NodeCommand []string
	// Detach lets the processes outlive the caller (for hack/localcluster up).
	// Otherwise they are killed when the caller dies, even without Stop.
	Detach bool
	// ReadyTimeout bounds the whole start-up; default 3 minutes (a loaded
	// 2-core machine can take a minute for the apiserver).
	ReadyTimeout time.Duration
	// Log receives progress lines; nil discards them. Each server's own
	// output goes to a file under Dir/logs.
	Log io.Writer
}

// MinIO says how to reach the cluster's MinIO server. Its region is us-east-1
// and clients must use path-style addressing.
type MinIO struct {
	Endpoint  string `json:"endpoint"` // http://127.0.0.1:PORT
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
	Console   string `json:"console"` // web console, http://127.0.0.1:PORT
}

// Cluster is a running local cluster.
type Cluster struct {
	// Dir holds everything the cluster writes; logs are in Dir/logs.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// APIServer is the apiserver's URL.
	APIServer string
	// MinIO is set when MinIO runs (Options.MinIO).
	MinIO *MinIO
	// EnvFile is a shell file exporting KUBECONFIG and the MinIO settings.
	EnvFile string
	// NodeName is the name of the cluster's node; empty with NoNode.
	NodeName string

	restConfig *rest.Config
	removeDir  bool
	log        io.Writer

	mu      sync.Mutex
	state   state
	stopped bool
	stopErr error
	node    *localnode.Node // the node when it runs in this process
	nodeLog *os.File
}

// ProcessInfo describes one server of the cluster.
type ProcessInfo struct {
	Name    string
	PID     int
	Log     string
	Running bool
}

// Start runs a cluster and returns once every server is ready. ctx bounds the
// start-up only; the servers run until Stop. On failure everything started is
// stopped and the error carries the end of the failing server's log.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if err := checkBinaries(opts); err != nil {
		return nil, err
	}
	c := &Cluster{log: opts.Log}
	if c.log == nil {
		c.log = io.Discard
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "ark-localcluster-")
		if err != nil {
			return nil, err
		}
		opts.Dir, c.removeDir = dir, true
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	for _, d := range []string{logsDir, certsDir, etcdDataDir, minioDataDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create cluster directory: %w", err)
		}
	}
	prev, err := readState(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		prev = &state{}
	case err != nil:
		return nil, err
	}
	var alive []string
	for _, p := range prev.Processes {
		if p.running() {
			alive = append(alive, fmt.Sprintf("%s (pid %d)", p.Name, p.PID))
		}
	}
	if len(alive) > 0 {
		return nil, fmt.Errorf("a cluster is already running in %s: %s; stop it first (go run ./hack/localcluster down --dir %s)", dir, strings.Join(alive, ", "), dir)
	}
	c.state.Ports = prev.Ports
	if c.state.Ports == nil {
		c.state.Ports = map[string]int{}
	}
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	b := &bootstrap{c: c, opts: opts, started: time.Now()}
	if err := b.prepare(prev); err != nil {
		return nil, err
	}
	if err := b.run(ctx); err != nil {
		return nil, err
	}
	c.logf("cluster ready in %s: export KUBECONFIG=%s", time.Since(b.started).Round(10*time.Millisecond), c.Kubeconfig)
	return c, nil
}

func checkBinaries(opts Options) error {
	need := map[string]string{"etcd": opts.Binaries.Etcd, "kube-apiserver": opts.Binaries.KubeAPIServer}
	if !opts.NoControllerManager {
		need["kube-controller-manager"] = opts.Binaries.KubeControllerManager
	}
	if opts.MinIO {
		need["minio"] = opts.Binaries.MinIO
	}
	var errs []error
	if opts.Detach && !opts.NoNode && len(opts.NodeCommand) == 0 {
		errs = append(errs, errors.New("a detached cluster runs its node as a process of its own: set Options.NodeCommand to a command that calls localcluster.RunNode (hack/localcluster does), or set Options.NoNode"))
	}
	for name, path := range need {
		if path == "" {
			errs = append(errs, fmt.Errorf("no path for %s in Options.Binaries (use localcluster.Testbin)", name))
		} else if err := checkExecutable(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Open finds a cluster that `hack/localcluster up` left running in dir, to
// stop it or report on it.
func Open(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no local cluster in %s (%s is missing): start one with `go run ./hack/localcluster up --dir %s`", dir, stateFile, dir)
	}
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Dir:        dir,
		Kubeconfig: s.Kubeconfig,
		APIServer:  s.APIServer,
		MinIO:      s.MinIO,
		NodeName:   s.Node,
		EnvFile:    filepath.Join(dir, envFile),
		state:      *s,
		log:        io.Discard,
	}
	if s.Kubeconfig != "" {
		if cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err == nil {
			c.restConfig = cfg
		}
	}
	return c, nil
}

// RESTConfig returns a new admin client configuration for the cluster. It
// keeps client-go's default rate limits; raise QPS and Burst for load.
func (c *Cluster) RESTConfig() *rest.Config {
	if c.restConfig == nil {
		return nil
	}
	return rest.CopyConfig(c.restConfig)
}

// Processes lists the servers started, in start order.
func (c *Cluster) Processes() []ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ProcessInfo, 0, len(c.state.Processes))
	for _, p := range c.state.Processes {
		out = append(out, ProcessInfo{Name: p.Name, PID: p.PID, Log: p.Log, Running: p.running()})
	}
	return out
}

// LogTails returns the last lines of each server's log, for a failing test
// to print.
func (c *Cluster) LogTails(lines int) string {
	c.mu.Lock()
	procs := append([]*process(nil), c.state.Processes...)
	c.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "----- %s (pid %d), last %d lines of %s -----\n%s\n", p.Name, p.PID, lines, p.Log, p.logTail(lines))
	}
	c.mu.Lock()
	inProcess := c.node != nil
	c.mu.Unlock()
	if inProcess {
		log := filepath.Join(c.Dir, logsDir, "node.log")
		fmt.Fprintf(&b, "----- node (in this process), last %d lines of %s -----\n%s\n", lines, log, tailFile(log, lines))
	}
	return b.String()
}

// stopGrace is how long servers get to exit on SIGTERM before SIGKILL.
const stopGrace = 15 * time.Second

// Stop ends every server (SIGTERM to each process group, SIGKILL after a
// grace period) and waits for them to exit. It is safe to call more than
// once. It removes Dir only when Start made it.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	var errs []error
	if c.node != nil {
		// First, while the apiserver still answers: the node stops its
		// pods' processes.
		begin := time.Now()
		if err := c.node.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the node: %w", err))
		}
		c.nodeLog.Close()
		c.logf("node stopped in %s", time.Since(begin).Round(10*time.Millisecond))
	}
	// One at a time, in reverse start order: the apiserver removes its
	// endpoint lease from etcd as it shuts down and hangs if etcd is already
	// gone.
	for i := len(c.state.Processes) - 1; i >= 0; i-- {
		if err := c.stopProcess(c.state.Processes[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if c.removeDir && len(errs) == 0 {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	c.stopErr = errors.Join(errs...)
	return c.stopErr
}

func (c *Cluster) stopProcess(p *process) error {
	if !p.running() {
		return nil
	}
	begin := time.Now()
	if err := p.signalGroup(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	if p.waitGone(stopGrace) {
		c.logf("%s (pid %d) stopped in %s", p.Name, p.PID, time.Since(begin).Round(10*time.Millisecond))
		return nil
	}
	c.logf("%s (pid %d) ignored SIGTERM for %s; killing it", p.Name, p.PID, stopGrace)
	if err := p.signalGroup(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (pid %d): %w", p.Name, p.PID, err)
	}
	if !p.waitGone(10 * time.Second) {
		return fmt.Errorf("%s (pid %d) still runs after SIGKILL", p.Name, p.PID)
	}
	return nil
}

func (c *Cluster) logf(format string, args ...any) {
	if tl, ok := c.log.(testLog); ok {
		// Reports the line in this package that logged, not fmt's.
		tl.t.Helper()
		tl.t.Logf("localcluster: "+format, args...)
		return
	}
	fmt.Fprintf(c.log, "localcluster: "+format+"\n", args...)
}

// addProcess records a started server in the state file at once, so that a
// crash half-way through start-up still leaves `down` able to stop it.
func (c *Cluster) addProcess(p *process, replaces *process) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if replaces != nil {
		for i, q := range c.state.Processes {
			if q == replaces {
				c.state.Processes = append(c.state.Processes[:i], c.state.Processes[i+1:]...)
				break
			}
		}
	}
	c.state.Processes = append(c.state.Processes, p)
	return writeState(c.Dir, &c.state)
}

func (c *Cluster) saveState() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return writeState(c.Dir, &c.state)
}
