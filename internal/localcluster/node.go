package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/heptio/ark/internal/localnode"
)

// NodeName is the name of the cluster's node.
const NodeName = localnode.DefaultName

// NodeDirEnv carries the cluster directory to the node of a detached cluster,
// which runs as Options.NodeCommand; that command calls RunNode with it.
const NodeDirEnv = "ARK_LOCALCLUSTER_NODE_DIR"

// nodeDataDir holds the node's pods (their emptyDir volumes, directories and
// logs) under the cluster directory.
const nodeDataDir = "node"

// nodeCertsDir holds the certificates of the node and of the apiserver's
// client side.
func nodeCertsDir(dir string) string { return filepath.Join(dir, certsDir, "node") }

func nodePKIPaths(dir string) localnode.PKI { return localnode.PKIPaths(nodeCertsDir(dir)) }

func nodeConfig(dir string, c *Cluster, pki localnode.PKI, scheduler bool) localnode.Config {
	return localnode.Config{
		Name:         NodeName,
		RESTConfig:   c.RESTConfig(),
		Dir:          filepath.Join(dir, nodeDataDir),
		CertFile:     pki.KubeletCert,
		KeyFile:      pki.KubeletKey,
		ClientCAFile: pki.CA,
		Version:      KubeVersion,
		Scheduler:    scheduler,
	}
}

// startNodeInProcess runs the node in this process: the cheapest way, and
// the one tests use, so the race detector sees the node's code too.
func (b *bootstrap) startNodeInProcess(ctx context.Context) error {
	logPath := b.logPath("node")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of the node: %w", err)
	}
	begin := time.Now()
	cfg := nodeConfig(b.c.Dir, b.c, b.pki, b.opts.Workloads)
	cfg.Log = logFile
	n, err := localnode.Start(ctx, cfg)
	if err != nil {
		logFile.Close()
		return fmt.Errorf("start the node: %w; its log: %s", err, logPath)
	}
	b.c.mu.Lock()
	b.c.node, b.c.nodeLog = n, logFile
	b.c.mu.Unlock()
	b.c.logf("node %s ready after %s (kubelet API on 127.0.0.1:%d, in this process), log %s",
		NodeName, time.Since(begin).Round(10*time.Millisecond), n.Port(), logPath)
	return nil
}

// nodeProcess runs the node as a process of its own, for a detached cluster
// whose node must outlive the command that started it.
func (b *bootstrap) nodeProcess() *component {
	comp := &component{name: "node"}
	comp.launch = func() (*process, error) {
		cmd := b.opts.NodeCommand
		env := append(os.Environ(), NodeDirEnv+"="+b.c.Dir)
		return launch(comp.name, cmd[0], cmd[1:], env, b.logPath(comp.name), b.opts.Detach)
	}
	started := time.Now()
	comp.ready = func(ctx context.Context) error { return b.c.checkNode(ctx, started) }
	return comp
}

// RunNode runs the node of the detached cluster in dir until ctx ends: the
// body of Options.NodeCommand, which gets dir in $ARK_LOCALCLUSTER_NODE_DIR.
// Its log goes to stderr, which the cluster sends to Dir/logs/node.log.
func RunNode(ctx context.Context, dir string) error {
	if dir == "" {
		return fmt.Errorf("%s is not set: the node is started by localcluster.Start, not by hand", NodeDirEnv)
	}
	c, err := Open(dir)
	if err != nil {
		return err
	}
	if c.restConfig == nil {
		return fmt.Errorf("no kubeconfig in %s yet", dir)
	}
	cfg := nodeConfig(c.Dir, c, nodePKIPaths(c.Dir), c.state.Workloads)
	cfg.Log = os.Stderr
	return localnode.Run(ctx, cfg)
}

// checkNode verifies the node of the cluster works: the Node is Ready, its
// Lease was renewed (after since, when given), and its kubelet API answers
// on the port the Node publishes.
func (c *Cluster) checkNode(ctx context.Context, since time.Time) error {
	cfg := c.RESTConfig()
	if cfg == nil {
		return errors.New("no kubeconfig recorded")
	}
	cfg.Timeout = 5 * time.Second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	node, err := kube.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", NodeName, err)
	}
	ready := false
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		return fmt.Errorf("node %s is not Ready", NodeName)
	}
	lease, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("lease of node %s: %w", NodeName, err)
	}
	if err := leaseFresh(lease, since); err != nil {
		return err
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	tlsCfg, err := nodePKIPaths(c.Dir).ClientTLS()
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsCfg}}
	_, err = get(ctx, client, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "")
	if err != nil {
		return fmt.Errorf("kubelet API of node %s: %w", NodeName, err)
	}
	return nil
}

func leaseFresh(l *coordinationv1.Lease, since time.Time) error {
	if l.Spec.RenewTime == nil {
		return fmt.Errorf("lease of node %s was never renewed", NodeName)
	}
	renewed := l.Spec.RenewTime.Time
	if !since.IsZero() && renewed.Before(since.Truncate(time.Second)) {
		return fmt.Errorf("lease of node %s was last renewed at %s, before this start", NodeName, renewed.Format(time.RFC3339))
	}
	if d := l.Spec.LeaseDurationSeconds; d != nil && time.Since(renewed) > time.Duration(*d)*time.Second {
		return fmt.Errorf("lease of node %s expired: last renewed %s ago", NodeName, time.Since(renewed).Round(time.Second))
	}
	return nil
}

// CheckNode reports whether the cluster's node runs and answers, for
// `hack/localcluster status`. A cluster started with NoNode has none.
func (c *Cluster) CheckNode(ctx context.Context) error {
	if c.NodeName == "" {
		return errors.New("this cluster was started without a node")
	}
	return c.checkNode(ctx, time.Time{})
}
