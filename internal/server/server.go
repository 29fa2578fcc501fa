// Package server wires the Ark server: a controller-runtime manager with one
// reconciler per resource, health and metrics endpoints, leader election and
// the Config watch that reloads providers without a restart.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/buildinfo"
	"github.com/heptio/ark/internal/controller"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/kube/adaptive"
	"github.com/heptio/ark/internal/metrics"
	objectproviders "github.com/heptio/ark/internal/objectstore/providers"
	"github.com/heptio/ark/internal/oplog"
	"github.com/heptio/ark/internal/pluginhost"
	"github.com/heptio/ark/internal/podexec"
	"github.com/heptio/ark/internal/settings"
	snapshotproviders "github.com/heptio/ark/internal/snapshot/providers"
	"github.com/heptio/ark/internal/tempfiles"
)

// Options are the server's flags.
type Options struct {
	Namespace      string
	MetricsAddress string
	HealthAddress  string
	ProfileAddress string // net/http/pprof; "" is off
	LeaderElect    bool
	RestoreWorkers int
	// ConcurrentBackups and ConcurrentRestores bound how many run at once.
	ConcurrentBackups  int
	ConcurrentRestores int
	// MaxInflightWrites caps the adaptive limit of write requests in flight
	// at the API server (internal/kube/adaptive).
	MaxInflightWrites int
	BackupPageSize    int64
	VolumeTimeout     time.Duration
	MaxArchiveEntry   int64
	DefaultBackupTTL  time.Duration
	MinSyncPeriod     time.Duration
	Factory           settings.Factory
	Log               *slog.Logger
	ConfigWaitMessage time.Duration
	// PluginDir holds the plugin binaries; a missing one means none.
	PluginDir string
	// PluginTimeout bounds each call to a plugin.
	PluginTimeout time.Duration
	// PluginEnv is added to the server's environment for plugins.
	PluginEnv []string
}

// serviceAccountNamespaceFile is where a pod learns its namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ResolveNamespace picks the server's namespace: the flag, else the pod's
// service-account namespace, else heptio-ark.
func ResolveNamespace(flag string) string {
	if flag != "" {
		return flag
	}
	if data, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(data)); ns != "" {
			return ns
		}
	}
	return arkv1.DefaultNamespace
}

// Run runs the server until ctx ends (SIGTERM), then shuts down gracefully.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	logger := opts.Log
	log.SetLogger(logr.FromSlogHandler(logger.Handler()))
	if opts.MinSyncPeriod > 0 {
		settings.MinPeriod = opts.MinSyncPeriod
	}
	ns := opts.Namespace
	// Every write the server sends (a restore's creates above all) goes
	// through one adaptive limit, shared by concurrent restores and backups:
	// the API server's answers, not a fixed client-side rate, set the pace.
	cfg = rest.CopyConfig(cfg)
	limiter := adaptive.New(adaptive.Options{Max: opts.MaxInflightWrites, OnChange: metrics.APIWriteLimit})
	metrics.APIWriteLimit(limiter.Limit())
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return adaptive.Transport(limiter, rt) })
	removeStaleTempFiles(logger)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  arkv1.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddress},
		HealthProbeBindAddress:  opts.HealthAddress,
		PprofBindAddress:        opts.ProfileAddress,
		LeaderElection:          opts.LeaderElect,
		LeaderElectionID:        "ark-server.ark.heptio.com",
		LeaderElectionNamespace: ns,
		// A server stopped cleanly (SIGTERM: a rollout) hands the lease on at
		// once instead of making the next one wait out its duration; the
		// process exits as soon as Run returns, so nothing acts after.
		LeaderElectionReleaseOnCancel: true,
		// Ark's objects live in its namespace; it reads nothing else through
		// the cache (the engines use the dynamic client, paginated).
		Cache:                   cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		GracefulShutdownTimeout: ptr(30 * time.Second),
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	disco, err := kube.NewDiscovery(dc)
	if err != nil {
		return err
	}
	podExec, err := podexec.New(cfg)
	if err != nil {
		return err
	}

	plugins, err := pluginhost.Discover(ctx, pluginhost.Options{Dir: opts.PluginDir, CallTimeout: opts.PluginTimeout,
		Env: append([]string{"ARK_NAMESPACE=" + ns}, opts.PluginEnv...), Log: logger})
	if err != nil {
		return err
	}
	defer plugins.Close()
	factory, err := withPlugins(opts.Factory, plugins)
	if err != nil {
		return err
	}
	current := &settings.Settings{Factory: factory, Secrets: mgr.GetAPIReader()}
	recovery := &controller.Interrupted{Client: mgr.GetClient(), Namespace: ns, Log: logger, Settings: current}
	if err := mgr.Add(recovery); err != nil {
		return err
	}
	reconcilers := []interface{ SetupWithManager(ctrl.Manager) error }{
		&controller.ConfigReconciler{Client: mgr.GetClient(), Namespace: ns, Settings: current, Log: logger},
		&controller.BackupReconciler{Client: mgr.GetClient(), Settings: current, Discovery: disco, Dynamic: dyn,
			PageSize: opts.BackupPageSize, DefaultTTL: opts.DefaultBackupTTL, PodExec: podExec, Log: logger, Recovery: recovery, Concurrency: opts.ConcurrentBackups,
			ItemActions: plugins.BackupItemActions()},
		&controller.RestoreReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Settings: current, Discovery: disco, Dynamic: dyn,
			Workers: opts.RestoreWorkers, VolumeTimeout: opts.VolumeTimeout, PodExec: podExec, Log: logger, Recovery: recovery,
			ArchiveLimits: archive.Limits{MaxEntrySize: opts.MaxArchiveEntry}, Concurrency: opts.ConcurrentRestores,
			ItemActions: plugins.RestoreItemActions()},
		&controller.DownloadRequestReconciler{Client: mgr.GetClient(), Settings: current, Log: logger},
		&controller.ScheduleReconciler{Client: mgr.GetClient(), Settings: current, Log: logger},
		&controller.OwnedBackupCleaner{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Settings: current, Log: logger},
		&controller.DeleteBackupRequestReconciler{Client: mgr.GetClient(), Settings: current, Log: logger, Recovery: recovery},
		&controller.GarbageCollector{Client: mgr.GetClient(), Namespace: ns, Settings: current, Log: logger},
		&controller.BackupSyncer{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Namespace: ns, Settings: current, Log: logger},
		&controller.ServerStatusRequestReconciler{Client: mgr.GetClient(), Log: logger, Status: controller.ServerStatus{
			Version: buildinfo.Version, PluginDir: plugins.Dir(), Plugins: plugins.Plugins(), PluginErrors: plugins.Errors()}},
		&controller.BackupVerifier{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Namespace: ns, Settings: current, Log: logger,
			ArchiveLimits: archive.Limits{MaxEntrySize: opts.MaxArchiveEntry}},
	}
	for _, r := range reconcilers {
		if err := r.SetupWithManager(mgr); err != nil {
			return err
		}
	}
	go waitForConfigMessage(ctx, mgr.GetAPIReader(), ns, current, logger, opts.ConfigWaitMessage)
	logger.Info("starting Ark server", "namespace", ns, "leaderElection", opts.LeaderElect)
	return mgr.Start(ctx)
}

// waitForConfigMessage says, every few seconds until a Config is loaded,
// that the server is waiting and which file to apply.
func waitForConfigMessage(ctx context.Context, reader client.Reader, ns string, current *settings.Settings, logger *slog.Logger, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := current.Config(); err == nil {
			return
		}
		var cfg arkv1.Config
		if err := reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: arkv1.DefaultConfigName}, &cfg); err != nil {
			logger.Info(fmt.Sprintf("waiting for Config %q in namespace %q: create it, e.g. 'kubectl apply -f examples/minio/10-ark-config.yaml' (or examples/<provider>/00-ark-config.yaml for aws and gcp, examples/azure/10-ark-config.yaml); until then backups stay New",
				arkv1.DefaultConfigName, ns), "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// withPlugins extends the Factory's provider registries with the plugins'
// stores, so a Config naming one works as one naming a built-in store. A
// Factory whose functions are set (tests) is kept as it is.
func withPlugins(f settings.Factory, plugins *pluginhost.Host) (settings.Factory, error) {
	if f.ObjectStore == nil {
		set, err := objectproviders.Builtin().With(plugins.ObjectStoreProviders()...)
		if err != nil {
			return f, err
		}
		f.ObjectStore = set.New
	}
	if f.BlockStore == nil {
		set, err := snapshotproviders.Builtin().With(plugins.BlockStoreProviders()...)
		if err != nil {
			return f, err
		}
		f.BlockStore = set.New
	}
	return f, nil
}

func ptr[T any](v T) *T { return &v }

// removeStaleTempFiles removes the operation logs and restore directories a
// crashed server left in the temporary directory (an emptyDir that outlives
// the container in a pod). Those of other live servers sharing the directory
// are held by them, and left alone.
func removeStaleTempFiles(logger *slog.Logger) {
	removed, err := tempfiles.RemoveStale("", controller.RestoreTempPattern, oplog.TempPattern)
	if len(removed) > 0 {
		logger.Info("removed temporary files a stopped server left behind", "dir", os.TempDir(), "files", removed)
	}
	if err != nil {
		logger.Warn("could not remove every temporary file a stopped server left behind", "dir", os.TempDir(), "error", err)
	}
}
