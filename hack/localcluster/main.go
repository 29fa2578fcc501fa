// Command localcluster runs a local Kubernetes control plane (etcd,
// kube-apiserver, kube-controller-manager), a node whose pods run as local
// processes, and optionally MinIO, detached, for trying Ark by hand and for
// the quickstart:
//
//	go run ./hack/localcluster up --dir DIR [--minio] [--no-node]
//	go run ./hack/localcluster status --dir DIR
//	go run ./hack/localcluster down --dir DIR
//
// The binaries come from --testbin, else $ARK_TESTBIN_DIR, else the cache
// hack/build-testbin.sh fills (~/.cache/ark-testbin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/heptio/ark/internal/localcluster"
)

const usage = `usage:
  localcluster up     --dir DIR [--minio [--bucket B]] [--no-node] [--testbin DIR]   start a cluster that keeps running after this exits
  localcluster status --dir DIR                              show whether its servers run and answer
  localcluster down   --dir DIR                              stop its servers (DIR is kept)
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given: use up, status or down")
	}
	cmd, args := args[0], args[1:]
	if cmd == nodeCommand {
		return runNode()
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for the cluster's data, logs, kubeconfig and env.sh (required)")
	var withMinIO, noNode *bool
	var testbin, bucket *string
	if cmd == "up" {
		withMinIO = fs.Bool("minio", false, "also run MinIO (S3) for backups")
		noNode = fs.Bool("no-node", false, "run no node: pods stay Pending")
		bucket = fs.String("bucket", "", "with --minio, create this bucket")
		testbin = fs.String("testbin", "", "directory printed by hack/build-testbin.sh (default $ARK_TESTBIN_DIR, then ~/.cache/ark-testbin)")
	}
	switch cmd {
	case "up", "status", "down":
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: use up, status or down", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: give the directory with --dir", fs.Args())
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required: %s %s --dir DIR", filepath.Base(os.Args[0]), cmd)
	}
	switch cmd {
	case "up":
		return up(*dir, *withMinIO, *noNode, *bucket, *testbin, stdout, stderr)
	case "status":
		return status(*dir, stdout)
	default:
		return down(*dir, stdout)
	}
}

func up(dir string, withMinIO, noNode bool, bucket, testbin string, stdout, stderr io.Writer) error {
	if bucket != "" && !withMinIO {
		return errors.New("--bucket needs --minio")
	}
	bins, err := localcluster.Testbin(testbinRoot(testbin))
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to run the node with: %w", err)
	}
	// Ctrl-C during start-up stops what was started; once up, the servers
	// are in sessions of their own and outlive this command.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{
		Binaries: bins,
		Dir:      dir,
		MinIO:    withMinIO,
		Detach:   true,
		Log:      stderr,
		NoNode:   noNode,
		// As in a real cluster, a Deployment gets its pods, and they run.
		Workloads: true,
		// The node outlives this command, so it is a process of its own:
		// this program again, with the hidden node command.
		NodeCommand: []string{self, nodeCommand},
	})
	if err != nil {
		return err
	}
	if bucket != "" {
		if err := createBucket(ctx, c.MinIO, bucket); err != nil {
			_ = c.Stop()
			return err
		}
	}
	fmt.Fprintf(stdout, "Local cluster running in %s\n\n", c.Dir)
	fmt.Fprintf(stdout, "  . %s              # sets KUBECONFIG=%s\n", c.EnvFile, c.Kubeconfig)
	fmt.Fprintf(stdout, "  kubectl get namespaces     # kubectl %s is at %s\n\n", localcluster.KubeVersion, bins.Kubectl)
	fmt.Fprintf(stdout, "API server: %s (admin token in the kubeconfig; every request is allowed)\n", c.APIServer)
	if c.NodeName != "" {
		fmt.Fprintf(stdout, "Node:       %s: pods run as processes of this machine (no images; see docs/local-cluster.md)\n", c.NodeName)
	} else {
		fmt.Fprintf(stdout, "Node:       none (--no-node): pods stay Pending\n")
	}
	if c.MinIO != nil {
		fmt.Fprintf(stdout, "MinIO:      %s (region us-east-1, path-style), console %s\n", c.MinIO.Endpoint, c.MinIO.Console)
		fmt.Fprintf(stdout, "            access key %s, secret key %s\n", c.MinIO.AccessKey, c.MinIO.SecretKey)
		fmt.Fprintf(stdout, "            AWS credentials file: %s\n", filepath.Join(c.Dir, "credentials-minio"))
	}
	fmt.Fprintf(stdout, "Logs:       %s\n\n", filepath.Join(c.Dir, "logs"))
	fmt.Fprintf(stdout, "Stop it with: go run ./hack/localcluster down --dir %s\n", c.Dir)
	return nil
}

// testbinRoot picks the binaries' cache the same way hack/build-testbin.sh does.
func testbinRoot(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(localcluster.TestbinEnv); env != "" {
		return env
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "ark-testbin")
}

func down(dir string, stdout io.Writer) error {
	c, err := localcluster.Open(dir)
	if err != nil {
		return err
	}
	before := c.Processes()
	stopErr := c.Stop()
	for _, p := range before {
		switch {
		case !p.Running:
			fmt.Fprintf(stdout, "%-24s pid %-7d was not running\n", p.Name, p.PID)
		default:
			fmt.Fprintf(stdout, "%-24s pid %-7d stopped\n", p.Name, p.PID)
		}
	}
	if stopErr != nil {
		return stopErr
	}
	fmt.Fprintf(stdout, "Stopped. Data and logs stay in %s; `up --dir %s` starts it again.\n", c.Dir, c.Dir)
	return nil
}

func status(dir string, stdout io.Writer) error {
	c, err := localcluster.Open(dir)
	if err != nil {
		return err
	}
	healthy := true
	for _, p := range c.Processes() {
		state := "running"
		if !p.Running {
			state, healthy = "NOT RUNNING", false
		}
		fmt.Fprintf(stdout, "%-24s pid %-7d %-12s log %s\n", p.Name, p.PID, state, p.Log)
	}
	if err := apiserverReady(c.RESTConfig()); err != nil {
		healthy = false
		fmt.Fprintf(stdout, "API server %s: not ready: %v\n", c.APIServer, err)
	} else {
		fmt.Fprintf(stdout, "API server %s: ready (KUBECONFIG=%s)\n", c.APIServer, c.Kubeconfig)
	}
	if c.NodeName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.CheckNode(ctx)
		cancel()
		if err != nil {
			healthy = false
			fmt.Fprintf(stdout, "Node %s: not ready: %v\n", c.NodeName, err)
		} else {
			fmt.Fprintf(stdout, "Node %s: ready (Ready, lease renewed, kubelet API answers)\n", c.NodeName)
		}
	}
	if c.MinIO != nil {
		if err := minioReady(c.MinIO.Endpoint); err != nil {
			healthy = false
			fmt.Fprintf(stdout, "MinIO %s: not ready: %v\n", c.MinIO.Endpoint, err)
		} else {
			fmt.Fprintf(stdout, "MinIO %s: ready (console %s, access key %s)\n", c.MinIO.Endpoint, c.MinIO.Console, c.MinIO.AccessKey)
		}
	}
	if !healthy {
		return errors.New("the cluster is not fully up: see the logs above, then `down` and `up` again")
	}
	return nil
}

func minioReady(endpoint string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(endpoint + "/minio/health/ready")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/minio/health/ready answered %s", resp.Status)
	}
	return nil
}

func apiserverReady(cfg *rest.Config) error {
	if cfg == nil {
		return errors.New("no kubeconfig recorded")
	}
	cfg.Timeout = 5 * time.Second
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	resp, err := client.Get(cfg.Host + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

// nodeCommand is the hidden command `up` starts the node with; it is not for
// people, and reads the cluster directory from $ARK_LOCALCLUSTER_NODE_DIR.
const nodeCommand = "node"

func runNode() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	return localcluster.RunNode(ctx, os.Getenv(localcluster.NodeDirEnv))
}
