package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
)

// DownloadURLTTL is how long a signed download URL stays valid.
const DownloadURLTTL = 10 * time.Minute

// DownloadRequestReconciler answers DownloadRequests with signed URLs and
// deletes them once expired.
type DownloadRequestReconciler struct {
	Client   client.Client
	Settings *Settings
	Log      *slog.Logger
}

// Reconcile signs a URL for a new request, or deletes an expired one.
func (r *DownloadRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var dr arkv1.DownloadRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &dr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if dr.Status.Phase == arkv1.DownloadRequestPhaseProcessed || dr.Status.Phase == arkv1.DownloadRequestPhaseFailed {
		return r.expire(ctx, &dr)
	}
	env, err := r.Settings.Current()
	if errors.Is(err, ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	orig := dr.DeepCopy()
	expiration := metav1.NewTime(time.Now().Add(DownloadURLTTL))
	dr.Status.Expiration = &expiration
	if err == nil {
		var key string
		if key, err = r.key(ctx, &dr); err == nil {
			dr.Status.DownloadURL, err = env.Store.SignedURL(ctx, key, DownloadURLTTL)
		}
	}
	if err != nil {
		dr.Status.Phase = arkv1.DownloadRequestPhaseFailed
		dr.Status.FailureReason = err.Error()
	} else {
		dr.Status.Phase = arkv1.DownloadRequestPhaseProcessed
	}
	if err := r.Client.Status().Patch(ctx, &dr, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: DownloadURLTTL}, nil
}

// key maps a target to its object. A restore's files live beside its backup.
func (r *DownloadRequestReconciler) key(ctx context.Context, dr *arkv1.DownloadRequest) (string, error) {
	t := dr.Spec.Target
	switch t.Kind {
	case arkv1.DownloadTargetKindBackupLog:
		return backupstore.LogKey(t.Name), nil
	case arkv1.DownloadTargetKindBackupContents:
		return backupstore.ArchiveKey(t.Name), nil
	case arkv1.DownloadTargetKindRestoreLog, arkv1.DownloadTargetKindRestoreResults:
		var restore arkv1.Restore
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: dr.Namespace, Name: t.Name}, &restore)
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("restore %q not found in namespace %s", t.Name, dr.Namespace)
		}
		if err != nil {
			return "", err
		}
		if t.Kind == arkv1.DownloadTargetKindRestoreLog {
			return backupstore.RestoreLogKey(restore.Spec.BackupName, t.Name), nil
		}
		return backupstore.RestoreResultsKey(restore.Spec.BackupName, t.Name), nil
	}
	return "", fmt.Errorf("unknown download target kind %q: use BackupLog, BackupContents, RestoreLog or RestoreResults", t.Kind)
}

func (r *DownloadRequestReconciler) expire(ctx context.Context, dr *arkv1.DownloadRequest) (ctrl.Result, error) {
	if dr.Status.Expiration == nil {
		return ctrl.Result{}, nil
	}
	if left := time.Until(dr.Status.Expiration.Time); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, dr))
}

// SetupWithManager registers the reconciler.
func (r *DownloadRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("downloadrequest").For(&arkv1.DownloadRequest{}).Complete(r)
}
