package controller

import (
	"context"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
)

// ServerStatusTTL is how long an answered ServerStatusRequest is kept.
const ServerStatusTTL = time.Minute

// ServerStatus is what the server says of itself.
type ServerStatus struct {
	Version   string
	PluginDir string
	// Plugins and PluginErrors are what the server loaded, and what not.
	Plugins      []arkv1.PluginInfo
	PluginErrors []string
}

// ServerStatusRequestReconciler answers ServerStatusRequests (`ark plugin
// get`) and deletes them a minute later.
type ServerStatusRequestReconciler struct {
	Client client.Client
	Status ServerStatus
	Log    *slog.Logger
}

// Reconcile answers a new request, or deletes an old one.
func (r *ServerStatusRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ssr arkv1.ServerStatusRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &ssr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ssr.Status.Phase == arkv1.ServerStatusRequestPhaseProcessed {
		if ssr.Status.ProcessedTimestamp == nil {
			return ctrl.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, &ssr))
		}
		if left := time.Until(ssr.Status.ProcessedTimestamp.Add(ServerStatusTTL)); left > 0 {
			return ctrl.Result{RequeueAfter: left}, nil
		}
		return ctrl.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, &ssr))
	}
	now := metav1.Now()
	if err := patchStatus(ctx, r.Client, &ssr, func(s *arkv1.ServerStatusRequest) {
		s.Status = arkv1.ServerStatusRequestStatus{
			Phase:              arkv1.ServerStatusRequestPhaseProcessed,
			ProcessedTimestamp: &now,
			ServerVersion:      r.Status.Version,
			PluginDir:          r.Status.PluginDir,
			Plugins:            r.Status.Plugins,
			PluginErrors:       r.Status.PluginErrors,
		}
	}); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: ServerStatusTTL}, nil
}

// SetupWithManager registers the reconciler.
func (r *ServerStatusRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("serverstatusrequest").For(&arkv1.ServerStatusRequest{}).Complete(r)
}
