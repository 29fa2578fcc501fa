// Package serve is `ark server`: it runs the Ark server against a cluster.
package serve

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/heptio/ark/internal/cli/clientcfg"
	"github.com/heptio/ark/internal/cli/flags"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/kube/adaptive"
	"github.com/heptio/ark/internal/pluginhost"
	"github.com/heptio/ark/internal/redact"
	"github.com/heptio/ark/internal/restore"
	"github.com/heptio/ark/internal/server"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
	"github.com/heptio/ark/pkg/plugin"
)

// NewCommand is `ark server`.
func NewCommand(f *clientcfg.Factory) *cobra.Command {
	var (
		opts      server.Options
		logLevel  string
		logFormat string
		qps       float32
		burst     int
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Ark server",
		Long: `Run the Ark server: the controllers that carry out backups, restores,
schedules, deletions and downloads. In a cluster it runs as the Deployment
in examples/common/10-deployment.yaml; it can also run anywhere with a
kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config).

It reads the Config named "default" in its namespace, waits for it if it is
missing, and reloads it when it changes.`,
		Example: `  ark server
  ark server --kubeconfig ~/.kube/config --namespace heptio-ark --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg, err := kube.RESTConfig(kube.ClientOptions{Kubeconfig: f.Kubeconfig, Context: f.Context, QPS: qps, Burst: burst})
			if err != nil {
				return err
			}
			if qps <= 0 {
				cfg.QPS = -1 // client-go: no client-side rate limit
			} else if burst <= 0 {
				cfg.Burst = int(2 * qps)
			}
			opts.Namespace = server.ResolveNamespace(f.Namespace)
			if f.Kubeconfig != "" {
				// Plugins that talk to the cluster find it as the server did.
				opts.PluginEnv = append(opts.PluginEnv, "KUBECONFIG="+f.Kubeconfig)
			}
			opts.Log = logger
			ctx := ctrl.SetupSignalHandler()
			return server.Run(ctx, cfg, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&opts.MetricsAddress, "metrics-address", ":8085", "address of the Prometheus /metrics endpoint (0 disables it)")
	fl.StringVar(&opts.HealthAddress, "health-address", ":8086", "address of the /healthz and /readyz endpoints")
	fl.StringVar(&opts.ProfileAddress, "profile-address", "", "address of Go's /debug/pprof endpoints, to diagnose memory or CPU use (empty: off; never expose it outside the pod)")
	// On by default: two servers acting at once (a scale-up, a rollout, a
	// partitioned node whose pod still runs) would write the same keys.
	fl.BoolVar(&opts.LeaderElect, "leader-elect", true, "elect a leader through a Lease in the namespace, so that of several replicas only one acts (--leader-elect=false for a single server run by hand)")
	// No fixed client-side rate by default: writes go through an adaptive
	// limit that follows the API server's answers (429s from priority and
	// fairness, latency), which a fixed rate can only under- or overshoot.
	fl.Float32Var(&qps, "client-qps", 0, "an upper bound on the server's Kubernetes API requests per second (0: none; the adaptive write limit sets the pace)")
	fl.IntVar(&burst, "client-burst", 0, "the request burst allowed over --client-qps (0: twice --client-qps)")
	fl.IntVar(&opts.MaxInflightWrites, "max-inflight-writes", adaptive.DefaultMax, "the most write requests in flight at the API server; the adaptive limit stays under it")
	fl.IntVar(&opts.RestoreWorkers, "restore-workers", restore.DefaultWorkers, "the most items of one resource a restore works on at once (the adaptive write limit decides how many creates are in flight)")
	fl.IntVar(&opts.ConcurrentBackups, "concurrent-backups", 4, "how many backups run at once")
	fl.IntVar(&opts.ConcurrentRestores, "concurrent-restores", 2, "how many restores run at once")
	fl.Int64Var(&opts.BackupPageSize, "backup-page-size", 500, "items per LIST page during a backup")
	opts.VolumeTimeout = snapshot.DefaultVolumeTimeout
	fl.Var(flags.Duration{D: &opts.VolumeTimeout}, "volume-timeout", "how long a restore waits for a volume created from a snapshot")
	fl.Int64Var(&opts.MaxArchiveEntry, "max-archive-entry-size", 0, "largest single object a restore accepts from an archive, in bytes (0: the default, 32 MiB)")
	opts.DefaultBackupTTL = settings.DefaultBackupTTL
	fl.Var(flags.Duration{D: &opts.DefaultBackupTTL}, "default-backup-ttl", "how long a backup whose spec sets no --ttl is kept (the Config's defaultBackupTTL, when set, wins)")
	opts.MinSyncPeriod = time.Minute
	fl.Var(flags.Duration{D: &opts.MinSyncPeriod}, "min-sync-period", "floor of the Config's sync periods (lowered only for tests)")
	_ = fl.MarkHidden("min-sync-period")
	fl.StringVar(&opts.PluginDir, "plugin-dir", pluginhost.DefaultDir, "directory of the plugin binaries (where ark plugin add puts them); a missing directory means no plugins")
	opts.PluginTimeout = plugin.DefaultCallTimeout
	fl.Var(flags.Duration{D: &opts.PluginTimeout}, "plugin-timeout", "longest a call to a plugin may take (one batch of items, one store call); a plugin that takes longer is stopped and started again")
	return cmd
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	// Nothing the server logs (its own records, controller-runtime's, the
	// operations') shows a URL's query string or a credential.
	switch format {
	case "text":
		return slog.New(redact.Handler(slog.NewTextHandler(os.Stderr, hopts))), nil
	case "json":
		return slog.New(redact.Handler(slog.NewJSONHandler(os.Stderr, hopts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
