package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/heptio/ark/internal/localnode"
)

// bootstrap carries what Start needs while it brings the servers up in order:
// etcd (and MinIO alongside), then the apiserver, then the controller-manager.
type bootstrap struct {
	c       *Cluster
	opts    Options
	started time.Time

	token      string
	pki        localnode.PKI
	saKey      string
	caFile     string
	etcdURL    string
	chosen     map[int]bool // ports picked during this start, to never hand one out twice
	httpClient *http.Client // plain HTTP, for etcd and MinIO
	apiClient  *http.Client // trusts the apiserver's self-signed certificate
}

// component is one server: launch picks its ports and starts it; ready
// probes it once and returns nil when it serves.
type component struct {
	name     string
	portKeys []string
	launch   func() (*process, error)
	ready    func(ctx context.Context) error
	proc     *process
	retries  int
}

func (b *bootstrap) prepare(prev *state) error {
	dir := b.c.Dir
	b.chosen = map[int]bool{}
	b.httpClient = &http.Client{Transport: &http.Transport{Proxy: nil}}
	b.saKey = filepath.Join(dir, saKeyFile)
	// The apiserver writes its self-signed serving certificate (followed by
	// the CA that signed it) here on first start and reuses it afterwards.
	b.caFile = filepath.Join(dir, certsDir, "apiserver.crt")
	if err := ensureServiceAccountKey(b.saKey); err != nil {
		return err
	}
	// Made with or without a node: the apiserver's flags name them.
	pki, err := localnode.EnsurePKI(nodeCertsDir(dir))
	if err != nil {
		return fmt.Errorf("node certificates: %w", err)
	}
	b.pki = pki
	token, err := randomHex(24)
	if err != nil {
		return err
	}
	b.token = token
	if err := writeTokens(filepath.Join(dir, tokensFile), token); err != nil {
		return err
	}
	if b.opts.MinIO {
		m := &MinIO{AccessKey: b.opts.MinIOAccessKey, SecretKey: b.opts.MinIOSecretKey}
		switch {
		case m.AccessKey != "" || m.SecretKey != "":
			if len(m.AccessKey) < 3 || len(m.SecretKey) < 8 {
				return errors.New("MinIO needs an access key of at least 3 characters and a secret key of at least 8: fix Options.MinIOAccessKey/MinIOSecretKey")
			}
		case prev.MinIO != nil && prev.MinIO.AccessKey != "":
			// MinIO encrypts its stored configuration with the root
			// credentials, so a restart on the same data keeps them.
			m.AccessKey, m.SecretKey = prev.MinIO.AccessKey, prev.MinIO.SecretKey
		default:
			suffix, err := randomHex(4)
			if err != nil {
				return err
			}
			secret, err := randomHex(16)
			if err != nil {
				return err
			}
			m.AccessKey, m.SecretKey = "ark-"+suffix, secret
		}
		b.c.MinIO = m
		b.c.state.MinIO = m
	}
	return nil
}

func (b *bootstrap) run(ctx context.Context) error {
	etcd := b.etcd()
	if err := b.launch(etcd); err != nil {
		return err
	}
	var minio *component
	if b.opts.MinIO {
		// MinIO needs nothing else, so it comes up while the apiserver does.
		minio = b.minio()
		if err := b.launch(minio); err != nil {
			return err
		}
	}
	if err := b.await(ctx, etcd); err != nil {
		return err
	}
	apiserver := b.apiserver()
	if err := b.launch(apiserver); err != nil {
		return err
	}
	if err := b.await(ctx, apiserver); err != nil {
		return err
	}
	if err := b.writeClientConfig(); err != nil {
		return err
	}
	var cm *component
	if !b.opts.NoControllerManager {
		cm = b.controllerManager()
		if err := b.launch(cm); err != nil {
			return err
		}
	}
	if !b.opts.NoNode {
		b.c.NodeName, b.c.state.Node = NodeName, NodeName
		// The detached node reads it back to know whether to schedule.
		b.c.state.Workloads = b.opts.Workloads
		if err := b.c.saveState(); err != nil {
			return err
		}
		if b.opts.Detach {
			node := b.nodeProcess()
			if err := b.launch(node); err != nil {
				return err
			}
			if err := b.await(ctx, node); err != nil {
				return err
			}
		} else if err := b.startNodeInProcess(ctx); err != nil {
			return err
		}
	}
	if minio != nil {
		if err := b.await(ctx, minio); err != nil {
			return err
		}
	}
	if cm != nil {
		if err := b.await(ctx, cm); err != nil {
			return err
		}
	}
	if err := writeEnv(b.c.Dir, b.c.Kubeconfig, b.c.MinIO); err != nil {
		return err
	}
	b.c.EnvFile = filepath.Join(b.c.Dir, envFile)
	return b.c.saveState()
}

func (b *bootstrap) launch(comp *component) error {
	old := comp.proc
	p, err := comp.launch()
	if err != nil {
		return err
	}
	comp.proc = p
	b.c.logf("started %s (pid %d), log %s", comp.name, p.PID, p.Log)
	return b.c.addProcess(p, old)
}

// await polls comp until it is ready, it exits, or ctx ends. A server that
// lost the race for a port picked a moment earlier is started again on new
// ports.
func (b *bootstrap) await(ctx context.Context, comp *component) error {
	begin := time.Now()
	var lastErr error
	for {
		if !comp.proc.running() {
			tail := comp.proc.logTail(40)
			if comp.retries < 3 && strings.Contains(tail, "address already in use") {
				comp.retries++
				for _, k := range comp.portKeys {
					delete(b.c.state.Ports, k)
				}
				b.c.logf("%s lost a port to another process; starting it again on new ports", comp.name)
				if err := b.launch(comp); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%s (pid %d) %s before it was ready; the end of %s:\n%s",
				comp.name, comp.proc.PID, comp.proc.exitDescription(), comp.proc.Log, tail)
		}
		probeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lastErr = comp.ready(probeCtx)
		cancel()
		if lastErr == nil {
			b.c.logf("%s ready after %s (%s since start)", comp.name,
				time.Since(begin).Round(10*time.Millisecond), time.Since(b.started).Round(10*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s (pid %d) was not ready after %s (%v; last check: %v); the end of %s:\n%s",
				comp.name, comp.proc.PID, time.Since(begin).Round(time.Second), ctx.Err(), lastErr, comp.proc.Log, comp.proc.logTail(40))
		case <-comp.proc.exited:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// port returns the port an earlier run on the same directory used for key
// when it is still free (etcd keeps its peer URL in its data), or a new free
// loopback port. Another process can take it before the server binds it;
// await handles that.
func (b *bootstrap) port(key string) (int, error) {
	if p := b.c.state.Ports[key]; p != 0 && !b.chosen[p] && portFree(p) {
		b.chosen[p] = true
		return p, nil
	}
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free loopback port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !b.chosen[p] {
			b.chosen[p] = true
			b.c.state.Ports[key] = p
			return p, nil
		}
	}
	return 0, errors.New("could not find a free loopback port")
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (b *bootstrap) logPath(name string) string {
	return filepath.Join(b.c.Dir, logsDir, name+".log")
}

func (b *bootstrap) etcd() *component {
	comp := &component{name: "etcd", portKeys: []string{"etcd-client", "etcd-peer"}}
	comp.launch = func() (*process, error) {
		client, err := b.port("etcd-client")
		if err != nil {
			return nil, err
		}
		peer, err := b.port("etcd-peer")
		if err != nil {
			return nil, err
		}
		b.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", client)
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
		args := []string{
			"--name", "localcluster",
			"--data-dir", filepath.Join(b.c.Dir, etcdDataDir),
			"--listen-client-urls", b.etcdURL,
			"--advertise-client-urls", b.etcdURL,
			"--listen-peer-urls", peerURL,
			"--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "localcluster=" + peerURL,
			// A test cluster loses nothing that matters in a power cut.
			"--unsafe-no-fsync",
		}
		return launch(comp.name, b.opts.Binaries.Etcd, args, os.Environ(), b.logPath(comp.name), b.opts.Detach)
	}
	comp.ready = func(ctx context.Context) error {
		body, err := get(ctx, b.httpClient, b.etcdURL+"/health", "")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"health":"true"`) {
			return fmt.Errorf("etcd health: %s", body)
		}
		return nil
	}
	return comp
}

func (b *bootstrap) apiserver() *component {
	comp := &component{name: "kube-apiserver", portKeys: []string{"apiserver"}}
	comp.launch = func() (*process, error) {
		port, err := b.port("apiserver")
		if err != nil {
			return nil, err
		}
		b.c.APIServer = fmt.Sprintf("https://127.0.0.1:%d", port)
		b.c.state.APIServer = b.c.APIServer
		args := []string{
			"--etcd-servers", b.etcdURL,
			"--bind-address", "127.0.0.1",
			// Also puts 127.0.0.1 in the self-signed certificate, so clients
			// verify it instead of skipping TLS verification.
			"--advertise-address", "127.0.0.1",
			"--secure-port", strconv.Itoa(port),
			"--cert-dir", filepath.Join(b.c.Dir, certsDir),
			"--service-account-issuer", "https://kubernetes.default.svc",
			"--service-account-key-file", b.saKey,
			"--service-account-signing-key-file", b.saKey,
			"--token-auth-file", filepath.Join(b.c.Dir, tokensFile),
			// A test cluster: every authenticated request is allowed.
			"--authorization-mode", "AlwaysAllow",
			"--service-cluster-ip-range", "10.0.0.0/24",
			"--allow-privileged",
			// How it reaches the node's kubelet API for exec, logs and
			// port-forward: at the node's InternalIP (127.0.0.1), checking
			// its certificate, with a client certificate the node trusts.
			"--kubelet-preferred-address-types", "InternalIP",
			"--kubelet-certificate-authority", b.pki.CA,
			"--kubelet-client-certificate", b.pki.APIServerClientCrt,
			"--kubelet-client-key", b.pki.APIServerClientKey,
		}
		return launch(comp.name, b.opts.Binaries.KubeAPIServer, args, os.Environ(), b.logPath(comp.name), b.opts.Detach)
	}
	comp.ready = func(ctx context.Context) error {
		if b.apiClient == nil {
			client, err := b.newAPIClient()
			if err != nil {
				return err
			}
			b.apiClient = client
		}
		_, err := get(ctx, b.apiClient, b.c.APIServer+"/readyz", b.token)
		return err
	}
	return comp
}

func (b *bootstrap) newAPIClient() (*http.Client, error) {
	pemData, err := os.ReadFile(b.caFile)
	if err != nil {
		return nil, fmt.Errorf("no serving certificate yet: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("no certificate in %s yet", b.caFile)
	}
	return &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

func (b *bootstrap) writeClientConfig() error {
	ca, err := os.ReadFile(b.caFile)
	if err != nil {
		return err
	}
	b.c.Kubeconfig = filepath.Join(b.c.Dir, kubeconfigFile)
	b.c.state.Kubeconfig = b.c.Kubeconfig
	if err := writeKubeconfig(b.c.Kubeconfig, b.c.APIServer, ca, b.token); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	b.c.restConfig = &rest.Config{
		Host:            b.c.APIServer,
		BearerToken:     b.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
	}
	return b.c.saveState()
}

func (b *bootstrap) controllerManager() *component {
	controllers := b.opts.Controllers
	if len(controllers) == 0 {
		controllers = DefaultControllers
	}
	if b.opts.Workloads {
		controllers = slices.Clone(controllers)
		for _, w := range WorkloadControllers {
			if !slices.Contains(controllers, w) {
				controllers = append(controllers, w)
			}
		}
	}
	comp := &component{name: "kube-controller-manager"}
	comp.launch = func() (*process, error) {
		args := []string{
			"--kubeconfig", b.c.Kubeconfig,
			"--leader-elect=false",
			"--bind-address", "127.0.0.1",
			// No serving port: nothing needs it, and no port means no race.
			"--secure-port", "0",
			"--controllers", strings.Join(controllers, ","),
			"--service-account-private-key-file", b.saKey,
			"--root-ca-file", b.caFile,
		}
		return launch(comp.name, b.opts.Binaries.KubeControllerManager, args, os.Environ(), b.logPath(comp.name), b.opts.Detach)
	}
	comp.ready = func(ctx context.Context) error { return nil }
	if slices.Contains(controllers, "serviceaccount-controller") {
		// The default ServiceAccount appearing shows the controllers have
		// synced and act; pods cannot be created before it exists anyway.
		comp.ready = func(ctx context.Context) error {
			_, err := get(ctx, b.apiClient, b.c.APIServer+"/api/v1/namespaces/default/serviceaccounts/default", b.token)
			return err
		}
	}
	return comp
}

func (b *bootstrap) minio() *component {
	comp := &component{name: "minio", portKeys: []string{"minio", "minio-console"}}
	comp.launch = func() (*process, error) {
		port, err := b.port("minio")
		if err != nil {
			return nil, err
		}
		console, err := b.port("minio-console")
		if err != nil {
			return nil, err
		}
		b.c.MinIO.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		b.c.MinIO.Console = fmt.Sprintf("http://127.0.0.1:%d", console)
		args := []string{
			"server", filepath.Join(b.c.Dir, minioDataDir),
			"--address", fmt.Sprintf("127.0.0.1:%d", port),
			// Without it the console takes a random port on every address.
			"--console-address", fmt.Sprintf("127.0.0.1:%d", console),
		}
		env := append(os.Environ(),
			"MINIO_ROOT_USER="+b.c.MinIO.AccessKey,
			"MINIO_ROOT_PASSWORD="+b.c.MinIO.SecretKey,
			"MINIO_UPDATE=off",
		)
		return launch(comp.name, b.opts.Binaries.MinIO, args, env, b.logPath(comp.name), b.opts.Detach)
	}
	comp.ready = func(ctx context.Context) error {
		_, err := get(ctx, b.httpClient, b.c.MinIO.Endpoint+"/minio/health/ready", "")
		return err
	}
	return comp
}

// get fetches url and fails unless the answer is 200.
func get(ctx context.Context, client *http.Client, url, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}
