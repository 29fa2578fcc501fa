// Package localnode is the node of the local test cluster: a kubelet API on
// loopback and a Node object, so that the API server's pods/exec, pods/log
// and pods/portforward work as in a real cluster, and pods bound to it run.
//
// A container is a process of this machine, not an image: its command and
// args run with the host's tools, in a directory of its own, and its volumes
// are directories (see pathMap for how a mountPath reaches them). Pods share
// the host's network; their IP is 127.0.0.1. With Config.Scheduler, a
// minimal scheduler binds pending pods to the node (see scheduler).
// docs/local-cluster.md says what the node does and does not do.
package localnode

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// DefaultName is the node's name unless Config.Name says otherwise.
const DefaultName = "ark-local-node"

var everything = labels.Everything()

// Config configures a node.
type Config struct {
	// Name of the Node object; default DefaultName.
	Name string
	// RESTConfig reaches the API server with rights to nodes, leases, pods,
	// pods/status, pods/binding, events, configmaps, secrets, PVCs, PVs
	// and serviceaccounts/token. Containers get its host as
	// KUBERNETES_SERVICE_HOST and _PORT.
	RESTConfig *rest.Config
	// Client, when set, is used instead of a client built from RESTConfig
	// (unit tests give a fake one).
	Client kubernetes.Interface
	// Dir holds the pods' directories (Dir/pods/UID): their emptyDir
	// volumes, container directories and logs.
	Dir string
	// Address is where the kubelet API listens; default 127.0.0.1:0 (a
	// free port, published in the Node's daemonEndpoints).
	Address string
	// CertFile and KeyFile are the kubelet API's serving certificate, for
	// 127.0.0.1. ClientCAFile verifies clients: only a certificate it
	// signed (the API server's --kubelet-client-certificate) gets in, since
	// exec runs commands as the user who runs the node.
	CertFile, KeyFile, ClientCAFile string
	// Version is the kubelet version the Node reports.
	Version string
	// Scheduler also binds pending pods without a nodeName to this node.
	Scheduler bool
	// Log receives the node's log lines; nil discards them.
	Log io.Writer
}

// Node is a running node.
type Node struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	client kubernetes.Interface
	log    *slog.Logger

	broadcaster     record.EventBroadcaster
	recorder        record.EventRecorder
	schedulerEvents record.EventRecorder
	podLister       corelisters.PodLister
	pods            *podManager
	server          *http.Server
	port            int

	nodeMu sync.Mutex
	node   *corev1.Node

	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// Start registers the node, serves the kubelet API and starts running the
// pods bound to it. It returns once all of that is up; Stop ends it. ctx
// bounds the start only.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Address == "" {
		cfg.Address = nodeIP + ":0"
	}
	if (cfg.RESTConfig == nil && cfg.Client == nil) || cfg.Dir == "" || cfg.CertFile == "" || cfg.KeyFile == "" || cfg.ClientCAFile == "" {
		return nil, errors.New("localnode: Config needs RESTConfig, Dir, CertFile, KeyFile and ClientCAFile")
	}
	logOut := cfg.Log
	if logOut == nil {
		logOut = io.Discard
	}
	tlsConfig, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "pods"), 0o755); err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		restCfg := rest.CopyConfig(cfg.RESTConfig)
		// A pod start is a handful of requests; the default 5 QPS would
		// make a Deployment of ten crawl.
		restCfg.QPS, restCfg.Burst = 50, 100
		if client, err = kubernetes.NewForConfig(restCfg); err != nil {
			return nil, err
		}
	}
	n := &Node{cfg: cfg, client: client, log: slog.New(slog.NewTextHandler(logOut, nil))}
	// Not derived from ctx: the node outlives the start.
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = n.Stop()
		}
	}()
	n.pods = newPodManager(n)

	listener, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("kubelet API: listen on %s: %w", cfg.Address, err)
	}
	n.port = listener.Addr().(*net.TCPAddr).Port
	n.server = &http.Server{Handler: n.handler(), TLSConfig: tlsConfig, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.server.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("kubelet API stopped", "err", err)
		}
	}()

	n.broadcaster = record.NewBroadcaster(record.WithContext(n.ctx))
	n.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	n.recorder = n.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.Name})
	n.schedulerEvents = n.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: DefaultSchedulerName})

	if err := n.register(ctx); err != nil {
		return nil, err
	}
	n.heartbeat(n.ctx)

	factory := informers.NewSharedInformerFactoryWithOptions(client, 5*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.Name).String()
		}))
	podInformer := factory.Core().V1().Pods()
	n.podLister = podInformer.Lister()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { n.pods.sync(obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { n.pods.sync(obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				n.pods.forget(pod)
			}
		},
	}); err != nil {
		return nil, err
	}
	factory.Start(n.ctx.Done())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		<-n.ctx.Done()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.Informer().HasSynced) {
		return nil, fmt.Errorf("localnode: the pod cache did not sync: %w", ctx.Err())
	}
	if cfg.Scheduler {
		if err := n.startScheduler(n.ctx); err != nil {
			return nil, err
		}
	}
	n.log.Info("node running", "name", cfg.Name, "kubeletPort", n.port, "dir", cfg.Dir, "scheduler", cfg.Scheduler)
	return n, nil
}

func serverTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("kubelet client CA %s holds no certificate", cfg.ClientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: SPDY and WebSocket upgrades do not work over h2.
		NextProtos: []string{"http/1.1"},
	}, nil
}

// Port is the kubelet API's port on 127.0.0.1.
func (n *Node) Port() int { return n.port }

// Name is the Node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Stop stops every pod's processes (SIGTERM, SIGKILL after 2 s), the kubelet
// API and the heartbeats. The pods and the Node stay in the API server, as
// when a kubelet stops; a node started again on the same Dir runs them
// again. Safe to call more than once.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		if n.pods != nil {
			n.pods.stopAll()
		}
		n.cancel()
		if n.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := n.server.Shutdown(ctx); err != nil {
				_ = n.server.Close()
			}
			cancel()
		}
		if n.pods != nil {
			n.pods.wait()
		}
		n.wg.Wait()
		if n.broadcaster != nil {
			n.broadcaster.Shutdown()
		}
		n.log.Info("node stopped")
	})
	return n.stopErr
}

// Run starts a node and runs it until ctx ends, for a node in a process of
// its own.
func Run(ctx context.Context, cfg Config) error {
	n, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return n.Stop()
}
