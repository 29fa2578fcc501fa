package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/verify"
)

// DefaultVerificationWorkers is how many archives are verified at once when
// BackupVerifier.Workers is not set: each one is a download as long as the
// archive, so they are few.
const DefaultVerificationWorkers = 2

// verificationRetry is how soon a verification that could not read object
// storage (unreachable, credentials refused) is tried again.
var verificationRetry = 5 * time.Minute

// BackupVerifier reads every finished backup's archive back from object
// storage and verifies it (internal/verify): once right after the backup was
// written, which catches a store that acknowledged an upload it did not
// keep, then again every backupVerificationPeriod of the Config, which finds
// bit rot, a deleted object or a tampered archive before anyone needs the
// backup. The result is the backup's Verified condition and
// status.lastVerified, the ark_backup_verification_total and
// ark_backup_last_verification_timestamp_seconds metrics, and, for a
// failure, an error in the server's log naming the backup and the object.
//
// It is a reconciler of Backups, so each backup is due on its own clock
// (RequeueAfter) and at most Workers archives are read at once. A backup
// that is being deleted is never verified, and a verification that a
// deletion overtook records nothing. A store that cannot be read says nothing
// of the archive: the condition is left as it was and the verification is
// tried again after verificationRetry.
type BackupVerifier struct {
	Client client.Client
	// APIReader reads the backup afresh before a result is written, as a
	// deletion may have started while the archive was being read.
	APIReader client.Reader
	Namespace string
	Settings  *settings.Settings
	Log       *slog.Logger
	// Workers bounds the verifications under way; 0 means
	// DefaultVerificationWorkers.
	Workers       int
	ArchiveLimits archive.Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (v *BackupVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Reconcile verifies a backup that is due, and says when it is due next.
func (v *BackupVerifier) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var b arkv1.Backup
	if err := v.Client.Get(ctx, req.NamespacedName, &b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !verifiable(&b) {
		return ctrl.Result{}, nil
	}
	period, err := v.period(ctx)
	if err != nil {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if last := b.Status.LastVerified; last != nil {
		if left := last.Add(period).Sub(v.now()); left > 0 {
			return ctrl.Result{RequeueAfter: left}, nil
		}
	}
	if deleting, err := v.deletionRequested(ctx, &b); err != nil || deleting {
		return ctrl.Result{}, err
	}
	log := v.Log.With("backup", b.Namespace+"/"+b.Name)
	env, err := v.Settings.Environment()
	if err != nil {
		log.Warn("backup verification postponed: object storage is not usable", "error", err, "retryIn", verificationRetry.String())
		return ctrl.Result{RequeueAfter: verificationRetry}, nil
	}
	rep, readErr := v.verify(ctx, env, &b)
	if ctx.Err() != nil {
		return ctrl.Result{}, nil
	}
	object := env.Store.ArchiveLocation(b.Name)
	// The deletion may have begun while the archive was read: what was
	// found then says nothing of the backup.
	var current arkv1.Backup
	if err := v.APIReader.Get(ctx, req.NamespacedName, &current); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if deleting, err := v.deletionRequested(ctx, &current); err != nil || deleting || !verifiable(&current) || current.UID != b.UID {
		log.Debug("backup verification dropped: the backup is being deleted or changed", "object", object)
		return ctrl.Result{}, err
	}
	if readErr != nil {
		metrics.BackupVerified(metrics.VerificationUnreadable)
		log.Warn("backup verification could not read the archive; trying again later", "object", object, "error", readErr, "retryIn", verificationRetry.String())
		return ctrl.Result{RequeueAfter: verificationRetry}, nil
	}
	if err := v.record(ctx, &current, rep); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rep.Verified {
		metrics.BackupVerified(metrics.VerificationPassed)
		log.Info("backup verified", "object", object, "items", rep.Items, "bytes", rep.Bytes, "sha256", rep.SHA256)
	} else {
		metrics.BackupVerified(metrics.VerificationFailed)
		log.Error("backup verification failed: do not rely on this backup", "object", object, "reason", rep.Reason, "problem", rep.Problem)
	}
	return ctrl.Result{RequeueAfter: period}, nil
}

// verifiable reports whether a backup has an archive to verify: it finished,
// and it is not being deleted.
func verifiable(b *arkv1.Backup) bool {
	if !b.DeletionTimestamp.IsZero() {
		return false
	}
	return b.Status.Phase == arkv1.BackupPhaseCompleted || b.Status.Phase == arkv1.BackupPhasePartiallyFailed
}

// period is the Config's backupVerificationPeriod, read from the cached
// Config object: its watch is what re-queues every backup when it changes,
// and the Settings may not have been updated yet when that happens.
func (v *BackupVerifier) period(ctx context.Context) (time.Duration, error) {
	var cfg arkv1.Config
	if err := v.Client.Get(ctx, types.NamespacedName{Namespace: v.Namespace, Name: arkv1.DefaultConfigName}, &cfg); err != nil {
		current, serr := v.Settings.Config()
		if serr != nil {
			return 0, serr
		}
		return settings.BackupVerificationPeriod(current), nil
	}
	return settings.BackupVerificationPeriod(&cfg), nil
}

// deletionRequested reports whether a DeleteBackupRequest for the backup is
// under way (its phase flips to Deleting only once the request starts).
func (v *BackupVerifier) deletionRequested(ctx context.Context, b *arkv1.Backup) (bool, error) {
	if b.Status.Phase == arkv1.BackupPhaseDeleting {
		return true, nil
	}
	var requests arkv1.DeleteBackupRequestList
	if err := v.Client.List(ctx, &requests, client.InNamespace(b.Namespace)); err != nil {
		return false, fmt.Errorf("listing deletion requests: %w", err)
	}
	for _, r := range requests.Items {
		if r.Spec.BackupName == b.Name && r.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
			return true, nil
		}
	}
	return false, nil
}

// verify reads the archive back and checks it. The error is set only when
// the store could not be read, which says nothing of the archive.
func (v *BackupVerifier) verify(ctx context.Context, env *settings.Environment, b *arkv1.Backup) (*verify.Report, error) {
	object := env.Store.ArchiveLocation(b.Name)
	body, err := env.Store.GetArchive(ctx, b.Name)
	if errors.Is(err, objectstore.ErrNotFound) {
		return verify.Missing(object), nil
	}
	if err != nil {
		return nil, err
	}
	defer body.Close()
	rep, err := verify.Archive(ctx, body, verify.ExpectedOf(b), v.ArchiveLimits)
	if err != nil {
		return nil, err
	}
	if rep.Reason == verify.ReasonArchiveMissing {
		rep.Problem = fmt.Sprintf("%s (%s)", rep.Problem, object)
	}
	return rep, nil
}

// record writes the result as the Verified condition and lastVerified.
func (v *BackupVerifier) record(ctx context.Context, b *arkv1.Backup, rep *verify.Report) error {
	now := metav1.NewTime(v.now())
	cond := metav1.Condition{Type: arkv1.BackupConditionVerified, ObservedGeneration: b.Generation, LastTransitionTime: now}
	if rep.Verified {
		cond.Status, cond.Reason = metav1.ConditionTrue, "Verified"
		cond.Message = fmt.Sprintf("the archive read back from object storage passed every check: %d items, %d bytes, sha256 %s", rep.Items, rep.Bytes, rep.SHA256)
		if skipped := skippedChecks(rep); skipped != "" {
			cond.Message += "; not checked: " + skipped
		}
	} else {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, rep.Reason, rep.Problem
	}
	return patchStatusRetrying(ctx, v.Client, b, func(b *arkv1.Backup) {
		meta.SetStatusCondition(&b.Status.Conditions, cond)
		b.Status.LastVerified = &now
	})
}

func skippedChecks(rep *verify.Report) string {
	s := ""
	for _, c := range rep.Checks {
		if c.Result == verify.Skipped {
			if s != "" {
				s += "; "
			}
			s += c.Name + " (" + c.Detail + ")"
		}
	}
	return s
}

// SetupWithManager registers the verifier: it sees every Backup, and every
// Backup again when the Config (its period) changes.
func (v *BackupVerifier) SetupWithManager(mgr ctrl.Manager) error {
	workers := v.Workers
	if workers <= 0 {
		workers = DefaultVerificationWorkers
	}
	onlyDefault := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == v.Namespace && o.GetName() == arkv1.DefaultConfigName
	})
	allBackups := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list arkv1.BackupList
		if err := v.Client.List(ctx, &list, client.InNamespace(v.Namespace)); err != nil {
			v.Log.Error("listing backups after a Config change", "error", err)
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, b := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}})
		}
		return reqs
	})
	return ctrl.NewControllerManagedBy(mgr).Named("backupverification").
		For(&arkv1.Backup{}).
		Watches(&arkv1.Config{}, allBackups, builder.WithPredicates(onlyDefault)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(v)
}
