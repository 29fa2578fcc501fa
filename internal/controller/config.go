// Package controller holds one reconciler per Ark resource. Reconcilers move
// phases and wire the engines to the cluster and the bucket; the work itself
// is in internal/backup, internal/restore and internal/backupstore.
package controller

import (
	"context"
	"log/slog"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/settings"
)

// ConfigReconciler loads the Config named "default" in the server's namespace.
type ConfigReconciler struct {
	Client    client.Client
	Namespace string
	Settings  *settings.Settings
	Log       *slog.Logger
}

// Reconcile loads the Config and checks, once, that its stores can be built.
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
	r.Settings.Set(&cfg)
	if _, err := r.Settings.Environment(); err != nil {
		if settings.IsInvalidConfig(err) {
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

// SetupWithManager watches the Config "default" of the server's namespace.
func (r *ConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	onlyDefault := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Namespace && o.GetName() == arkv1.DefaultConfigName
	})
	return ctrl.NewControllerManagedBy(mgr).Named("config").
		For(&arkv1.Config{}, builder.WithPredicates(onlyDefault)).Complete(r)
}
