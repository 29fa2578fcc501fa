package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/settings"
)

// Backups owned by their schedule (spec.useOwnerReferencesInBackup) are
// deleted with it, data included, without a finalizer anywhere:
//
//  1. The Backups a schedule creates carry an owner reference to it, so
//     Kubernetes' garbage collector deletes the Backup objects once the
//     schedule is gone. That alone would delete only the objects: backup
//     sync would bring them back from the bucket, data untouched.
//  2. The OwnedBackupCleaner watches Backup deletions. When an owned
//     Backup disappears and its schedule is gone (or is another schedule of
//     the same name now), it creates a DeleteBackupRequest for it, exactly
//     as `ark backup delete` would; the deletion controller then deletes the
//     snapshots and files (a backup found only in the bucket is deleted from
//     there). A Backup deleted while its schedule lives (kubectl delete
//     backup, a deletion request finishing) is left alone.
//
// Nothing waits on the server, so a schedule's or namespace's deletion never
// hangs, whether the server runs or not. A deletion the server does not see
// (it was down while the garbage collector deleted the Backups) leaves the
// data: sync brings the Backups back without the owner reference, and they
// expire with their TTL like any other backup.

// scheduleOwnerReference makes a Backup owned by its schedule.
func scheduleOwnerReference(s *arkv1.Schedule) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Schedule",
		Name: s.Name, UID: s.UID, Controller: &yes,
	}
}

// owningSchedule returns a Backup's owner reference to a Schedule, if any.
func owningSchedule(b *arkv1.Backup) (metav1.OwnerReference, bool) {
	for _, ref := range b.OwnerReferences {
		if ref.Kind == "Schedule" && ref.APIVersion == arkv1.SchemeGroupVersion.String() {
			return ref, true
		}
	}
	return metav1.OwnerReference{}, false
}

// ownedBackupGone is the deletion of a Backup owned by a schedule.
type ownedBackupGone struct {
	Namespace, Backup, Schedule string
	ScheduleUID                 types.UID
	Phase                       arkv1.BackupPhase
}

// OwnedBackupCleaner requests the deletion of the data of owned Backups
// whose schedule was deleted.
type OwnedBackupCleaner struct {
	Client client.Client
	// Reader reads the schedule from the API server, not a cache that may
	// not have seen its deletion yet; nil means Client.
	Reader   client.Reader
	Settings *settings.Settings
	Log      *slog.Logger
	// RunningBackupWait bounds how long the deletion of a backup that was
	// still running waits for it to be stored; 0 means 6h.
	RunningBackupWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu        sync.Mutex
	firstSeen map[ownedBackupGone]time.Time
}

func (r *OwnedBackupCleaner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile handles one owned Backup's deletion.
func (r *OwnedBackupCleaner) Reconcile(ctx context.Context, req ownedBackupGone) (ctrl.Result, error) {
	log := r.Log.With("backup", req.Namespace+"/"+req.Backup, "schedule", req.Schedule)
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	var s arkv1.Schedule
	err := reader.Get(ctx, types.NamespacedName{Namespace: req.Namespace, Name: req.Schedule}, &s)
	switch {
	case err == nil && s.UID == req.ScheduleUID && s.DeletionTimestamp.IsZero():
		log.Debug("an owned backup was deleted while its schedule exists: its data stays (ark backup delete deletes data)")
		r.forget(req)
		return ctrl.Result{}, nil
	case err != nil && !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	switch req.Phase {
	case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseFailedValidation:
		log.Info("the schedule of a backup that never ran was deleted: nothing stored to delete")
		r.forget(req)
		return ctrl.Result{}, nil
	}
	cfg, err := r.Settings.Config()
	if errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if cfg.RestoreOnlyMode {
		log.Info("the schedule of a backup was deleted, but the server is in restore-only mode: the backup's data is kept")
		r.forget(req)
		return ctrl.Result{}, nil
	}
	if req.Phase == arkv1.BackupPhaseInProgress {
		// Its files are still being written; the deletion would find
		// nothing and leave what comes next behind. Wait until they are.
		stored, err := r.stored(ctx, req.Backup)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !stored {
			if r.waitedTooLong(req) {
				log.Warn("the backup was running when its schedule was deleted and is still not stored; giving up on deleting its data (delete it with ark backup delete if it appears)")
				r.forget(req)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{RequeueAfter: 15 * time.Second}, nil
		}
	}
	r.forget(req)
	var requests arkv1.DeleteBackupRequestList
	if err := r.Client.List(ctx, &requests, client.InNamespace(req.Namespace), client.MatchingLabels{arkv1.BackupNameLabel: arkv1.LabelValue(req.Backup)}); err != nil {
		return ctrl.Result{}, err
	}
	for _, d := range requests.Items {
		if d.Spec.BackupName != req.Backup {
			continue // a shortened label another backup's name shares
		}
		if d.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
			log.Info("the schedule owning the backup was deleted; a deletion request for it is already under way", "deleteBackupRequest", d.Name)
			return ctrl.Result{}, nil
		}
	}
	dbr := arkv1.NewDeleteBackupRequest(req.Namespace, req.Backup)
	if err := r.Client.Create(ctx, dbr); err != nil {
		return ctrl.Result{}, fmt.Errorf("requesting the deletion of backup %s, owned by deleted schedule %s: %w", req.Backup, req.Schedule, err)
	}
	log.Info("the schedule owning the backup was deleted: requested the deletion of its data", "deleteBackupRequest", dbr.Name)
	return ctrl.Result{}, nil
}

func (r *OwnedBackupCleaner) stored(ctx context.Context, name string) (bool, error) {
	env, err := r.Settings.Environment()
	if err != nil {
		return false, err
	}
	_, err = env.Store.GetMetadata(ctx, backupstore.OwnRef(name))
	if errors.Is(err, objectstore.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (r *OwnedBackupCleaner) waitedTooLong(req ownedBackupGone) bool {
	limit := r.RunningBackupWait
	if limit == 0 {
		limit = 6 * time.Hour
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstSeen == nil {
		r.firstSeen = map[ownedBackupGone]time.Time{}
	}
	first, ok := r.firstSeen[req]
	if !ok {
		r.firstSeen[req] = r.now()
		return false
	}
	return r.now().Sub(first) > limit
}

func (r *OwnedBackupCleaner) forget(req ownedBackupGone) {
	r.mu.Lock()
	delete(r.firstSeen, req)
	r.mu.Unlock()
}

// SetupWithManager watches the deletions of Backups owned by a schedule.
func (r *OwnedBackupCleaner) SetupWithManager(mgr ctrl.Manager) error {
	onDelete := handler.TypedFuncs[*arkv1.Backup, ownedBackupGone]{
		DeleteFunc: func(_ context.Context, e event.TypedDeleteEvent[*arkv1.Backup], q workqueue.TypedRateLimitingInterface[ownedBackupGone]) {
			ref, owned := owningSchedule(e.Object)
			if !owned {
				return
			}
			q.Add(ownedBackupGone{Namespace: e.Object.Namespace, Backup: e.Object.Name,
				Schedule: ref.Name, ScheduleUID: ref.UID, Phase: e.Object.Status.Phase})
		},
	}
	return builder.TypedControllerManagedBy[ownedBackupGone](mgr).Named("owned-backups").
		WatchesRawSource(source.TypedKind(mgr.GetCache(), &arkv1.Backup{}, handler.TypedEventHandler[*arkv1.Backup, ownedBackupGone](onDelete))).
		Complete(r)
}
