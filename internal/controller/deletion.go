package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
)

// Defaults of the DeleteBackupRequestReconciler.
const (
	// DefaultProcessedRequestTTL is how long a processed DeleteBackupRequest
	// is kept so its outcome can be read.
	DefaultProcessedRequestTTL = 24 * time.Hour
	defaultDeleteRetryBase     = 2 * time.Second
	defaultDeleteAttempts      = 6
)

// DeleteBackupRequestReconciler carries out DeleteBackupRequests: the
// backup's volume snapshots, its files in object storage, its Restores, then
// the Backup object, in that order, so that whatever is left after a failure
// still leads to what remains (the Backup's status lists the snapshots, the
// bucket's ark-backup.json goes last).
//
// A backup that has not finished (New or InProgress) is refused, not waited
// for: the request is Processed with an error saying so, and nothing is
// deleted. So is a backup with snapshots while no persistentVolumeProvider
// is configured, since deleting its files would lose the only record of
// snapshots nobody could then delete, and every request while the server is
// in restore-only mode, which leaves the bucket as it found it.
//
// Transient failures (object storage unreachable, a throttled cloud API) are
// retried with exponential backoff; after the last attempt, or at once for
// failures that waiting cannot fix (access denied, missing bucket, bad
// credentials), the request is Processed with the errors listed and the
// Backup is left in phase Deleting, which a new request picks up again.
type DeleteBackupRequestReconciler struct {
	Client   client.Client
	Settings *settings.Settings
	Log      *slog.Logger
	// Recovery must finish first, so a backup a crashed server left
	// InProgress is marked Failed (and deletable) rather than refused.
	Recovery *Interrupted
	// ProcessedTTL is how long processed requests are kept; 0 means
	// DefaultProcessedRequestTTL.
	ProcessedTTL time.Duration
	// RetryBase is the first retry delay, doubled on each attempt; 0 means 2s.
	RetryBase time.Duration
	// MaxAttempts bounds the attempts on transient failures; 0 means 6.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	attempts map[types.NamespacedName]int
}

func (r *DeleteBackupRequestReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile carries out a new request, or removes a processed one that has
// been kept long enough.
func (r *DeleteBackupRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var dbr arkv1.DeleteBackupRequest
	if err := r.Client.Get(ctx, req.NamespacedName, &dbr); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dbr.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if dbr.Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed {
		return r.expire(ctx, &dbr)
	}
	if !r.Recovery.recovered() {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if _, err := r.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	env, envErr := r.Settings.Environment()
	name := dbr.Spec.BackupName
	log := r.Log.With("deleteBackupRequest", dbr.Namespace+"/"+dbr.Name, "backup", name)
	if name == "" {
		return r.finish(ctx, log, &dbr, []string{"spec.backupName is empty: name the backup to delete (ark backup delete NAME)"})
	}
	if dbr.Labels[arkv1.BackupNameLabel] != arkv1.LabelValue(name) {
		// Requests made with kubectl get the label `ark backup delete` sets,
		// so both can be found by backup.
		orig := dbr.DeepCopy()
		arkv1.SetBackupNameLabel(&dbr, name)
		if err := r.Client.Patch(ctx, &dbr, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	var errs []error
	var refused string
	if envErr != nil {
		errs = []error{envErr}
	} else {
		refused, errs = r.deleteBackup(ctx, log, &dbr, env)
	}
	if refused != "" {
		log.Info("backup deletion refused", "reason", refused)
		return r.finish(ctx, log, &dbr, []string{refused})
	}
	if len(errs) == 0 {
		log.Info("backup deleted")
		return r.finish(ctx, log, &dbr, nil)
	}
	return r.retryOrGiveUp(ctx, log, &dbr, errs)
}

// deleteBackup deletes what the backup stored. refused is set when nothing
// was deleted on purpose; errs lists the steps that failed.
func (r *DeleteBackupRequestReconciler) deleteBackup(ctx context.Context, log *slog.Logger, dbr *arkv1.DeleteBackupRequest, env *settings.Environment) (refused string, errs []error) {
	name, ns := dbr.Spec.BackupName, dbr.Namespace
	if env.Config.RestoreOnlyMode {
		// Restore-only mode is how a cluster borrows another cluster's
		// bucket (disaster recovery, migration): it must not change it.
		return fmt.Sprintf("the Ark server is in restore-only mode (Config restoreOnlyMode: true), so it deletes no backups; nothing was deleted: set restoreOnlyMode to false in Config %s, then run 'ark backup delete %s' again",
			arkv1.DefaultConfigName, name), nil
	}
	var b arkv1.Backup
	inCluster := true
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &b)
	switch {
	case apierrors.IsNotFound(err):
		inCluster = false
		stored, serr := env.Store.GetMetadata(ctx, name)
		switch {
		case errors.Is(serr, objectstore.ErrNotFound):
			// No metadata: what is left of a failed backup (its log), or of
			// a deletion that stopped half way, is deleted all the same.
			files, ferr := env.Store.Files(ctx, name)
			if ferr != nil {
				return "", []error{fmt.Errorf("listing the files of backup %q in bucket %s: %w", name, env.Store.Bucket(), ferr)}
			}
			if !files.Any() {
				return fmt.Sprintf("backup %q not found in namespace %s nor in bucket %s: nothing to delete (check the name with 'ark backup get')", name, ns, env.Store.Bucket()), nil
			}
			b = arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: arkv1.BackupStatus{Phase: arkv1.BackupPhaseFailed}}
		case serr != nil:
			return "", []error{fmt.Errorf("reading backup %q from bucket %s: %w", name, env.Store.Bucket(), serr)}
		default:
			b = *stored
		}
	case err != nil:
		return "", []error{fmt.Errorf("reading backup %q: %w", name, err)}
	}

	switch b.Status.Phase {
	case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
		if inCluster {
			phase := b.Status.Phase
			if phase == "" {
				phase = arkv1.BackupPhaseNew
			}
			return fmt.Sprintf("backup %q is %s: a backup that has not finished cannot be deleted, because its files are still being written; nothing was deleted: run 'ark backup delete %s' again once 'ark backup describe %s' shows it finished",
				name, phase, name, name), nil
		}
	}
	if n := len(b.Status.VolumeBackups); n > 0 && env.Volumes == nil {
		return fmt.Sprintf("backup %q has %d volume snapshot(s) but the Config names no persistentVolumeProvider to delete them with; nothing was deleted: add the persistentVolumeProvider that took them to Config %s, then run 'ark backup delete %s' again",
			name, n, arkv1.DefaultConfigName, name), nil
	}

	// A bucket with object lock or a retention policy refuses to delete
	// the files (or, on S3, hides them behind delete markers while they
	// stay): say so before anything is deleted, snapshots included, and do
	// not retry what only time can fix.
	retention, err := env.Store.Retention(ctx, name)
	if err != nil {
		return "", []error{fmt.Errorf("reading whether backup %q is under retention in bucket %s: %w", name, env.Store.Bucket(), err)}
	}
	if retention.Holds(r.now()) {
		return lockedReason(name, env.Store.Bucket(), retention), nil
	}

	if dbr.Status.Phase != arkv1.DeleteBackupRequestPhaseInProgress {
		if err := patchStatus(ctx, r.Client, dbr, func(d *arkv1.DeleteBackupRequest) {
			d.Status.Phase = arkv1.DeleteBackupRequestPhaseInProgress
			d.Status.Errors = nil
		}); err != nil {
			return "", []error{err}
		}
	}
	if inCluster && b.Status.Phase != arkv1.BackupPhaseDeleting {
		// Deleting keeps restores and backup sync away from what is about
		// to disappear.
		if err := patchStatus(ctx, r.Client, &b, func(b *arkv1.Backup) { b.Status.Phase = arkv1.BackupPhaseDeleting }); client.IgnoreNotFound(err) != nil {
			return "", []error{fmt.Errorf("marking backup %q Deleting: %w", name, err)}
		}
	}

	// Snapshots first: their IDs are only recorded in the backup, so the
	// files stay until every snapshot is gone.
	volumes := make([]string, 0, len(b.Status.VolumeBackups))
	for pv := range b.Status.VolumeBackups {
		volumes = append(volumes, pv)
	}
	sort.Strings(volumes)
	for _, pv := range volumes {
		id := b.Status.VolumeBackups[pv].SnapshotID
		if err := env.Volumes.DeleteSnapshot(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("deleting snapshot %s of volume %s: %w", id, pv, err))
			continue
		}
		log.Info("deleted volume snapshot", "volume", pv, "snapshot", id)
	}
	if len(errs) > 0 {
		return "", errs
	}

	if err := deleteOwnFiles(ctx, log, env.Store, &b, inCluster); err != nil {
		errs = append(errs, fmt.Errorf("deleting the backup's files from bucket %s: %w", env.Store.Bucket(), err))
	}

	var restores arkv1.RestoreList
	if err := r.Client.List(ctx, &restores, client.InNamespace(ns)); err != nil {
		errs = append(errs, fmt.Errorf("listing the restores of backup %q: %w", name, err))
	}
	for i := range restores.Items {
		rs := &restores.Items[i]
		if rs.Spec.BackupName != name {
			continue
		}
		if err := r.Client.Delete(ctx, rs); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting restore %q: %w", rs.Name, err))
			continue
		}
		log.Info("deleted restore of the backup", "restore", rs.Name)
	}
	if len(errs) > 0 {
		return "", errs
	}

	// The Backup object last. It is deleted whether or not it was there at
	// the start, in case backup sync recreated it meanwhile.
	var current arkv1.Backup
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &current); err == nil {
		if err := removeLegacyFinalizer(ctx, r.Client, &current); err != nil {
			return "", []error{fmt.Errorf("removing the %s finalizer of backup %q: %w", arkv1.LegacyGCFinalizer, name, err)}
		}
		if err := r.Client.Delete(ctx, &current); client.IgnoreNotFound(err) != nil {
			return "", []error{fmt.Errorf("deleting the Backup object %q: %w", name, err)}
		}
	} else if !apierrors.IsNotFound(err) {
		return "", []error{fmt.Errorf("reading backup %q: %w", name, err)}
	}
	r.deleteOtherRequests(ctx, log, dbr)
	return "", nil
}

// deleteOwnFiles deletes the backup's files from the bucket, but only those
// that are this backup's: a Backup object made here whose name the bucket
// gives to another backup (an older one, another cluster's on a shared
// bucket) must not take that one with it.
func deleteOwnFiles(ctx context.Context, log *slog.Logger, store *backupstore.Store, b *arkv1.Backup, inCluster bool) error {
	_, fromStorage := b.Annotations[arkv1.FromStorageAnnotation]
	if !inCluster || fromStorage {
		// The stored backup is the one asked for, by name.
		return deleteAllFiles(ctx, log, store, b.Name)
	}
	files, err := store.Files(ctx, b.Name)
	if err != nil {
		return err
	}
	var stored *arkv1.Backup
	if files.Metadata {
		if stored, err = store.GetMetadata(ctx, b.Name); err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return err
		}
	}
	othersRunning := slices.ContainsFunc(files.Runs, func(id string) bool { return id != string(b.UID) })
	switch {
	case stored != nil && (stored.UID == "" || stored.UID == b.UID):
		return deleteAllFiles(ctx, log, store, b.Name)
	case stored == nil && !othersRunning && b.Status.Phase != arkv1.BackupPhaseFailedValidation:
		// What a failed run left (its log), and no one else's.
		return deleteAllFiles(ctx, log, store, b.Name)
	}
	run, _, err := store.OpenRun(ctx, b.Name, string(b.UID))
	if err != nil {
		return err
	}
	if err := run.Discard(ctx); err != nil {
		return err
	}
	log.Info("the bucket's files under this name are another backup's (an older one, or another cluster's): they are left as they are", "files", files.String())
	return nil
}

func deleteAllFiles(ctx context.Context, log *slog.Logger, store *backupstore.Store, name string) error {
	if err := store.DeleteBackup(ctx, name); err != nil {
		return err
	}
	log.Info("deleted the backup's files from object storage", "bucket", store.Bucket())
	return nil
}

// deleteOtherRequests removes the other requests for the same backup, which
// have nothing left to do.
func (r *DeleteBackupRequestReconciler) deleteOtherRequests(ctx context.Context, log *slog.Logger, dbr *arkv1.DeleteBackupRequest) {
	var list arkv1.DeleteBackupRequestList
	if err := r.Client.List(ctx, &list, client.InNamespace(dbr.Namespace)); err != nil {
		log.Warn("could not list the other deletion requests of the backup", "error", err)
		return
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.Name == dbr.Name || o.Spec.BackupName != dbr.Spec.BackupName {
			continue
		}
		if err := r.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			log.Warn("could not delete another deletion request of the backup", "other", o.Name, "error", err)
		}
	}
}

// retryOrGiveUp requeues a request whose failures may heal, with backoff,
// and otherwise records the failures as its outcome.
func (r *DeleteBackupRequestReconciler) retryOrGiveUp(ctx context.Context, log *slog.Logger, dbr *arkv1.DeleteBackupRequest, errs []error) (ctrl.Result, error) {
	msgs := make([]string, 0, len(errs)+1)
	retry := true
	for _, err := range errs {
		msgs = append(msgs, err.Error())
		if permanent(err) {
			retry = false
		}
	}
	key := types.NamespacedName{Namespace: dbr.Namespace, Name: dbr.Name}
	r.mu.Lock()
	if r.attempts == nil {
		r.attempts = map[types.NamespacedName]int{}
	}
	r.attempts[key]++
	attempt := r.attempts[key]
	r.mu.Unlock()
	maxAttempts := r.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultDeleteAttempts
	}
	if retry && attempt < maxAttempts {
		base := r.RetryBase
		if base <= 0 {
			base = defaultDeleteRetryBase
		}
		delay := base << (attempt - 1)
		log.Warn("backup deletion failed; retrying", "attempt", attempt, "of", maxAttempts, "retryIn", delay.String(), "errors", msgs)
		if err := patchStatus(ctx, r.Client, dbr, func(d *arkv1.DeleteBackupRequest) {
			d.Status.Phase = arkv1.DeleteBackupRequestPhaseInProgress
			d.Status.Errors = append(msgs, fmt.Sprintf("attempt %d of %d failed; retrying in %s", attempt, maxAttempts, delay))
		}); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	locked := false
	for _, err := range errs {
		locked = locked || errors.Is(err, objectstore.ErrRetained)
	}
	switch {
	case locked:
		msgs = append(msgs, fmt.Sprintf("not retried: the bucket keeps these files under retention (object lock, a retention or immutability policy, or a hold); the backup is left in phase Deleting, and 'ark backup delete %s' finishes it once the retention ends", dbr.Spec.BackupName))
	case retry:
		msgs = append(msgs, fmt.Sprintf("gave up after %d attempts: the backup is left in phase Deleting; fix the cause and run 'ark backup delete %s' again", attempt, dbr.Spec.BackupName))
	default:
		msgs = append(msgs, fmt.Sprintf("not retried, since waiting cannot fix this: the backup is left in phase Deleting; fix the cause and run 'ark backup delete %s' again", dbr.Spec.BackupName))
	}
	log.Error("backup deletion failed", "errors", msgs)
	return r.finish(ctx, log, dbr, msgs)
}

// permanent reports failures that retrying soon cannot fix.
func permanent(err error) bool {
	return errors.Is(err, objectstore.ErrAccessDenied) || errors.Is(err, objectstore.ErrBucketNotFound) ||
		errors.Is(err, objectstore.ErrRetained) ||
		errors.Is(err, snapshot.ErrCredentials) || errors.Is(err, snapshot.ErrInvalidConfig)
}

// lockedReason says why a backup under retention is not deleted, and
// when it can be.
func lockedReason(name, bucket string, r objectstore.Retention) string {
	var why, when string
	switch {
	case r.Hold && !r.Until.IsZero():
		why = fmt.Sprintf("under a legal hold and retained until %s (%s)", r.Until.UTC().Format(time.RFC3339), r.Mode)
		when = "once the hold is removed and the retention has ended"
	case r.Hold:
		why, when = "under a legal hold", "once the hold is removed"
	default:
		why = fmt.Sprintf("retained until %s (%s)", r.Until.UTC().Format(time.RFC3339), strings.TrimSpace(r.Mode+" object lock"))
		when = "after that"
	}
	return fmt.Sprintf("backup %q is %s in bucket %s, which keeps its files until then; nothing was deleted (neither its files nor its volume snapshots): garbage collection asks again %s, or run 'ark backup delete %s' then (see docs/object-storage.md, object lock)",
		name, why, bucket, when, name)
}

// finish marks the request Processed with its errors (none: success) and
// keeps it for ProcessedTTL.
func (r *DeleteBackupRequestReconciler) finish(ctx context.Context, log *slog.Logger, dbr *arkv1.DeleteBackupRequest, errs []string) (ctrl.Result, error) {
	r.forget(types.NamespacedName{Namespace: dbr.Namespace, Name: dbr.Name})
	if err := patchStatus(ctx, r.Client, dbr, func(d *arkv1.DeleteBackupRequest) {
		d.Status.Phase = arkv1.DeleteBackupRequestPhaseProcessed
		d.Status.Errors = errs
	}); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{RequeueAfter: r.ttl()}, nil
}

// expire deletes a processed request once it is older than ProcessedTTL.
func (r *DeleteBackupRequestReconciler) expire(ctx context.Context, dbr *arkv1.DeleteBackupRequest) (ctrl.Result, error) {
	age := r.now().Sub(dbr.CreationTimestamp.Time)
	if left := r.ttl() - age; left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	r.Log.Debug("deleting a processed deletion request", "deleteBackupRequest", dbr.Namespace+"/"+dbr.Name, "age", age.String())
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Delete(ctx, dbr))
}

func (r *DeleteBackupRequestReconciler) ttl() time.Duration {
	if r.ProcessedTTL > 0 {
		return r.ProcessedTTL
	}
	return DefaultProcessedRequestTTL
}

func (r *DeleteBackupRequestReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.attempts, key)
	r.mu.Unlock()
}

// SetupWithManager registers the reconciler. Status changes (its own) do not
// trigger it, so a retry waits for its backoff.
func (r *DeleteBackupRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("deletebackuprequest").
		For(&arkv1.DeleteBackupRequest{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}
