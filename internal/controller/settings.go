// Package controller holds one reconciler per Ark resource. Reconcilers move
// phases and wire the engines to the cluster and the bucket; the work itself
// is in internal/backup, internal/restore and internal/backupstore.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/snapshot"
)

// Environment is what the current Config says: where backups go and what
// snapshots volumes.
type Environment struct {
	Config *arkv1.Config
	Store  *backupstore.Store
	// Volumes is nil when no persistentVolumeProvider is configured.
	Volumes snapshot.BlockStore
}

// Periods with the defaults and the one-minute floor of Heptio Ark.
func (e *Environment) BackupSyncPeriod() time.Duration {
	return period(e.Config.BackupSyncPeriod.Duration, time.Hour)
}

// GCSyncPeriod is how often expired backups are collected.
func (e *Environment) GCSyncPeriod() time.Duration {
	return period(e.Config.GCSyncPeriod.Duration, time.Hour)
}

// ScheduleSyncPeriod is how often schedules are looked at.
func (e *Environment) ScheduleSyncPeriod() time.Duration {
	return period(e.Config.ScheduleSyncPeriod.Duration, time.Minute)
}

// MinPeriod is the shortest period a Config may set; tests lower it.
var MinPeriod = time.Minute

func period(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	if d < MinPeriod {
		return MinPeriod
	}
	return d
}

// ProviderFactory builds the stores a Config names.
type ProviderFactory struct {
	ObjectStore func(name string, config map[string]string) (objectstore.ObjectStore, error)
	BlockStore  func(name string, config map[string]string, store *backupstore.Store) (snapshot.BlockStore, error)
}

// Settings holds the current Config. Each caller gets an Environment built
// afresh from it, so a change of the Config or of the credentials its
// providers read (the cloud-credentials secret, mounted as files) takes
// effect at the next backup or restore, without a restart.
type Settings struct {
	Factory ProviderFactory

	mu  sync.RWMutex
	cfg *arkv1.Config
}

// config is the current Config, nil before one is loaded.
func (s *Settings) config() *arkv1.Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// ErrNoConfig means the server has not found its Config yet.
var ErrNoConfig = fmt.Errorf("the Ark server has no Config yet")

// Current builds the environment of the current Config, or says why there is
// none: ErrNoConfig, or what is wrong with the Config.
func (s *Settings) Current() (*Environment, error) {
	cfg := s.config()
	if cfg == nil {
		return nil, ErrNoConfig
	}
	env, err := s.Factory.build(cfg)
	switch {
	case err == nil:
		return env, nil
	case errors.Is(err, objectstore.ErrAccessDenied), errors.Is(err, snapshot.ErrCredentials):
		// The Config is fine; the credentials it reads are not. The
		// provider's message names the secret and its fix.
		return nil, err
	}
	return nil, &InvalidConfigError{Err: fmt.Errorf("the server's Config %s/%s is invalid: %w (fix it with 'kubectl -n %s edit config %s')",
		cfg.Namespace, cfg.Name, err, cfg.Namespace, cfg.Name)}
}

// InvalidConfigError says the Config itself must be fixed; other errors of
// Current (credentials) fail an operation without blaming its spec.
type InvalidConfigError struct{ Err error }

func (e *InvalidConfigError) Error() string { return e.Err.Error() }

func (e *InvalidConfigError) Unwrap() error { return e.Err }

// IsInvalidConfig reports whether err is an InvalidConfigError.
func IsInvalidConfig(err error) bool {
	var ic *InvalidConfigError
	return errors.As(err, &ic)
}

func (s *Settings) set(cfg *arkv1.Config) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
}

// ConfigReconciler loads the Config named "default" in the server's namespace.
type ConfigReconciler struct {
	Client    client.Client
	Namespace string
	Settings  *Settings
	Log       *slog.Logger
}

// Reconcile rebuilds the environment from the Config.
func (r *ConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cfg arkv1.Config
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: r.Namespace, Name: arkv1.DefaultConfigName}, &cfg)
	if apierrors.IsNotFound(err) {
		r.Log.Warn("Config was deleted; keeping the last one loaded until a new one appears", "namespace", r.Namespace)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	r.Settings.set(cfg.DeepCopy())
	if _, err := r.Settings.Current(); err != nil {
		if IsInvalidConfig(err) {
			r.Log.Error("Config is invalid; backups and restores will fail validation until it is fixed", "error", err)
		} else {
			r.Log.Error("Config loaded, but its storage cannot be used yet; backups and restores will fail until this is fixed", "error", err)
		}
		return ctrl.Result{}, nil
	}
	pv := "<none>"
	if cfg.PersistentVolumeProvider != nil {
		pv = cfg.PersistentVolumeProvider.Name
	}
	r.Log.Info("Config loaded", "backupStorageProvider", cfg.BackupStorageProvider.Name,
		"bucket", cfg.BackupStorageProvider.Bucket, "persistentVolumeProvider", pv,
		"restoreOnlyMode", cfg.RestoreOnlyMode)
	return ctrl.Result{}, nil
}

func (f ProviderFactory) build(cfg *arkv1.Config) (*Environment, error) {
	bsp := cfg.BackupStorageProvider
	if bsp.Name == "" {
		return nil, fmt.Errorf("backupStorageProvider.name is empty: set it to aws, gcp, azure or filesystem")
	}
	if bsp.Bucket == "" {
		return nil, fmt.Errorf("backupStorageProvider.bucket is empty: set it to the bucket (or container) backups go to")
	}
	objects, err := f.ObjectStore(bsp.Name, bsp.Config)
	if err != nil {
		return nil, fmt.Errorf("backupStorageProvider %q: %w", bsp.Name, err)
	}
	env := &Environment{Config: cfg.DeepCopy(), Store: &backupstore.Store{Objects: objects, Bucket: bsp.Bucket}}
	if pvp := cfg.PersistentVolumeProvider; pvp != nil && pvp.Name != "" {
		volumes, err := f.BlockStore(pvp.Name, pvp.Config, env.Store)
		if err != nil {
			return nil, fmt.Errorf("persistentVolumeProvider %q: %w", pvp.Name, err)
		}
		env.Volumes = volumes
	}
	return env, nil
}

// SetupWithManager watches the Config "default" of the server's namespace.
func (r *ConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	onlyDefault := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Namespace && o.GetName() == arkv1.DefaultConfigName
	})
	return ctrl.NewControllerManagedBy(mgr).Named("config").
		For(&arkv1.Config{}, builder.WithPredicates(onlyDefault)).Complete(r)
}
