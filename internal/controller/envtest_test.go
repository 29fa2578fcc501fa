package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
	"github.com/heptio/ark/internal/settings"
)

// The reconcilers are tested against a real API server and etcd (the ones the
// local cluster uses), started once per test binary through envtest with
// Ark's CRDs; each test works in namespaces of its own.
var (
	apiOnce   sync.Once
	apiEnv    *envtest.Environment
	apiConfig *rest.Config
	apiErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if apiEnv != nil {
		_ = apiEnv.Stop()
	}
	os.Exit(code)
}

// apiServer returns the shared API server's config, starting it on first use.
func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	bins := localcluster.TestBinaries(t)
	apiOnce.Do(func() {
		env := &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd")},
			ErrorIfCRDPathMissing: true,
			ControlPlane:          envtest.ControlPlane{Etcd: &envtest.Etcd{Path: bins.Etcd}},
		}
		env.ControlPlane.GetAPIServer().Path = bins.KubeAPIServer
		env.ControlPlane.KubectlPath = bins.Kubectl
		apiConfig, apiErr = env.Start()
		if apiErr == nil {
			apiEnv = env
			apiConfig.QPS, apiConfig.Burst = 300, 600
			apiConfig.WarningHandler = rest.NoWarnings{}
		}
	})
	if apiErr != nil {
		t.Fatalf("starting the API server: %v", apiErr)
	}
	return rest.CopyConfig(apiConfig)
}

// reconcilerEnv is what a reconciler under test is wired to: the real API
// server, a bucket in memory, and the Settings of a Config naming it.
type reconcilerEnv struct {
	client    client.Client
	dynamic   dynamic.Interface
	discovery *kube.Discovery
	bucket    *memstore.Store
	settings  *settings.Settings
	namespace string
}

var nsCounter struct {
	sync.Mutex
	n int
}

func newReconcilerEnv(t *testing.T) *reconcilerEnv {
	t.Helper()
	cfg := apiServer(t)
	c, err := client.New(cfg, client.Options{Scheme: arkv1.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disco, err := kube.NewDiscovery(dc)
	if err != nil {
		t.Fatal(err)
	}
	nsCounter.Lock()
	nsCounter.n++
	ns := fmt.Sprintf("ark-%d", nsCounter.n)
	nsCounter.Unlock()
	e := &reconcilerEnv{client: c, dynamic: dynamic.NewForConfigOrDie(cfg), discovery: disco,
		bucket: memstore.New("ark"), namespace: ns}
	e.createNamespace(t, ns)
	e.settings = memSettings(e.bucket, &arkv1.Config{
		ObjectMeta:            metav1.ObjectMeta{Namespace: ns, Name: arkv1.DefaultConfigName},
		BackupStorageProvider: arkv1.ObjectStorageProviderConfig{CloudProviderConfig: arkv1.CloudProviderConfig{Name: "memory"}, Bucket: "ark"},
	})
	return e
}

func (e *reconcilerEnv) createNamespace(t *testing.T, name string) {
	t.Helper()
	err := e.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

func (e *reconcilerEnv) log() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (e *reconcilerEnv) backupReconciler() *BackupReconciler {
	return &BackupReconciler{Client: e.client, Settings: e.settings, Discovery: e.discovery, Dynamic: e.dynamic, Log: e.log()}
}

func (e *reconcilerEnv) restoreReconciler() *RestoreReconciler {
	return &RestoreReconciler{Client: e.client, Settings: e.settings, Discovery: e.discovery, Dynamic: e.dynamic, Log: e.log()}
}

func (e *reconcilerEnv) key(name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: e.namespace, Name: name}}
}

// configMaps creates n ConfigMaps in namespace.
func (e *reconcilerEnv) configMaps(t *testing.T, namespace string, n int) {
	t.Helper()
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("cm-%03d", i)},
			Data: map[string]string{"i": fmt.Sprint(i)}}
		if err := e.client.Create(context.Background(), cm); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *reconcilerEnv) getBackup(t *testing.T, name string) *arkv1.Backup {
	t.Helper()
	var b arkv1.Backup
	if err := e.client.Get(context.Background(), e.key(name).NamespacedName, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func (e *reconcilerEnv) getRestore(t *testing.T, name string) *arkv1.Restore {
	t.Helper()
	var r arkv1.Restore
	if err := e.client.Get(context.Background(), e.key(name).NamespacedName, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// fastProgress makes running operations write their progress every
// millisecond, so status writes overlap the engines' work.
func fastProgress(t *testing.T) {
	old := progressInterval
	progressInterval = time.Millisecond
	t.Cleanup(func() { progressInterval = old })
}

// memSettings are Settings whose object store is bucket, holding cfg (no
// Config when nil).
func memSettings(bucket *memstore.Store, cfg *arkv1.Config) *settings.Settings {
	s := &settings.Settings{Factory: settings.Factory{
		ObjectStore: func(string, map[string]string) (objectstore.ObjectStore, error) { return bucket, nil },
	}}
	if cfg != nil {
		s.Set(cfg)
	}
	return s
}
