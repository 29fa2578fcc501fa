package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/settings"
)

// DownloadURLTTL is how long a signed download URL stays valid.
const DownloadURLTTL = 10 * time.Minute

// DownloadRequestReconciler answers DownloadRequests with signed URLs and
// deletes them once expired.
type DownloadRequestReconciler struct {
	Client   client.Client
	Settings *settings.Settings
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
	if _, err := r.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	url, err := r.signedURL(ctx, &dr)
	expiration := metav1.NewTime(time.Now().Add(DownloadURLTTL))
	if err := patchStatus(ctx, r.Client, &dr, func(dr *arkv1.DownloadRequest) {
		dr.Status.Expiration = &expiration
		if err != nil {
			dr.Status.Phase = arkv1.DownloadRequestPhaseFailed
			dr.Status.FailureReason = err.Error()
		} else {
			dr.Status.Phase = arkv1.DownloadRequestPhaseProcessed
			dr.Status.DownloadURL = url
		}
	}); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: DownloadURLTTL}, nil
}

// target maps a request's target to the file it names. A restore's files
// belong to its backup.
//
// The target must be a Backup or Restore object of the request's namespace:
// its name is checked to be an object name first, since it becomes part of
// a bucket key (a name like "other/other.tar.gz#" or "../x" must not reach a
// file that is no file of a backup), and a request reaches only the backups
// and restores the cluster shows in that namespace, whatever the bucket
// holds besides.
func (r *DownloadRequestReconciler) target(ctx context.Context, dr *arkv1.DownloadRequest) (backupstore.DownloadTarget, error) {
	t := dr.Spec.Target
	if problems := validation.IsDNS1123Subdomain(t.Name); len(problems) > 0 {
		return backupstore.DownloadTarget{}, fmt.Errorf("spec.target.name %s is not the name of a backup or restore (%s): name one that `ark backup get` or `ark restore get` lists",
			quoteName(t.Name), strings.Join(problems, "; "))
	}
	switch t.Kind {
	case arkv1.DownloadTargetKindBackupLog, arkv1.DownloadTargetKindBackupContents:
		var backup arkv1.Backup
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: dr.Namespace, Name: t.Name}, &backup)
		if apierrors.IsNotFound(err) {
			return backupstore.DownloadTarget{}, fmt.Errorf("backup %q not found in namespace %s: `ark backup get` lists the backups there", t.Name, dr.Namespace)
		}
		if err != nil {
			return backupstore.DownloadTarget{}, err
		}
		return backupstore.DownloadTarget{Kind: t.Kind, Backup: t.Name}, nil
	case arkv1.DownloadTargetKindRestoreLog, arkv1.DownloadTargetKindRestoreResults, arkv1.DownloadTargetKindRestorePlan:
		var restore arkv1.Restore
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: dr.Namespace, Name: t.Name}, &restore)
		if apierrors.IsNotFound(err) {
			return backupstore.DownloadTarget{}, fmt.Errorf("restore %q not found in namespace %s", t.Name, dr.Namespace)
		}
		if err != nil {
			return backupstore.DownloadTarget{}, err
		}
		return backupstore.DownloadTarget{Kind: t.Kind, Backup: restore.Spec.BackupName, Restore: t.Name}, nil
	}
	return backupstore.DownloadTarget{}, fmt.Errorf("unknown download target kind %q: use BackupLog, BackupContents, RestoreLog, RestoreResults or RestorePlan", t.Kind)
}

// quoteName quotes a name for a message, cut short when it is longer than
// any object name, so a hostile request cannot inflate its own status.
func quoteName(name string) string {
	const max = validation.DNS1123SubdomainMaxLength
	if len(name) > max {
		return fmt.Sprintf("%q... (%d bytes)", name[:max], len(name))
	}
	return fmt.Sprintf("%q", name)
}

func (r *DownloadRequestReconciler) signedURL(ctx context.Context, dr *arkv1.DownloadRequest) (string, error) {
	env, err := r.Settings.Environment()
	if err != nil {
		return "", err
	}
	target, err := r.target(ctx, dr)
	if err != nil {
		return "", err
	}
	return env.Store.SignedURL(ctx, target, DownloadURLTTL)
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
