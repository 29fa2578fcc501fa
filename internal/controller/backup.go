package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/encryption"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/oplog"
	"github.com/heptio/ark/internal/progress"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
)

// progressInterval bounds how often a running backup or restore writes its
// progress into its status (a variable so tests can write it very often).
var progressInterval = time.Second

// BackupReconciler runs backups in phase New.
type BackupReconciler struct {
	Client    client.Client
	Settings  *settings.Settings
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	PageSize  int64
	// DefaultTTL is the server's --default-backup-ttl: the TTL of a backup
	// whose spec sets none, unless the Config's defaultBackupTTL says
	// otherwise. 0 means settings.DefaultBackupTTL.
	DefaultTTL time.Duration
	// PodExec runs backup hooks in pods (pods/exec).
	PodExec hooks.PodExecutor
	Log     *slog.Logger
	// ItemActions are the plugins' backup item actions.
	ItemActions []backup.ItemAction
	// Recovery must finish before new backups start.
	Recovery *Interrupted
	// Concurrency is how many backups run at once (at least 1): a fleet of
	// schedules due at the same minute need not queue behind each other.
	Concurrency int

	// running are the backups this server runs, for cancel requests.
	running runs
	// unrecorded holds, by Backup UID, the final status of backups that are
	// complete in the bucket but whose status write failed even after its
	// retries (the API server away for long): each later reconcile of the
	// backup tries again. A server that dies meanwhile leaves the work to
	// the next one's recovery, which reads the same status from the bucket.
	unrecorded sync.Map
}

// Reconcile validates and runs a new backup.
func (r *BackupReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var b arkv1.Backup
	if err := r.Client.Get(ctx, req.NamespacedName, &b); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if err := removeLegacyFinalizer(ctx, r.Client, &b); err != nil {
		return ctrl.Result{}, err
	}
	if final, ok := r.unrecorded.Load(b.UID); ok {
		return ctrl.Result{}, r.recordFinal(ctx, &b, final.(*arkv1.BackupStatus))
	}
	if !b.DeletionTimestamp.IsZero() || (b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew) {
		return ctrl.Result{}, nil
	}
	if _, fromStorage := b.Annotations[arkv1.FromStorageAnnotation]; fromStorage {
		// A stored backup whose status is being written: never run it again.
		return ctrl.Result{}, nil
	}
	if !r.Recovery.recovered() {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	log := r.Log.With("backup", b.Namespace+"/"+b.Name)
	if b.Spec.Cancel {
		return ctrl.Result{}, r.cancelNew(ctx, log, &b)
	}
	if _, err := r.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil // stays New, as the troubleshooting guide says
	}
	env, err := r.Settings.Environment()
	if err != nil && !settings.IsInvalidConfig(err) {
		return ctrl.Result{}, r.fail(ctx, log, &b, fmt.Sprintf("object storage is not usable: %v", err))
	}
	problems := []string{}
	var keys *encryption.Keyring
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		problems = r.validate(ctx, &b, env)
		if keys, err = env.Keys(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		log.Info("backup failed validation", "errors", problems)
		err := claimStatus(ctx, r.Client, &b, func(b *arkv1.Backup) {
			b.Status.Phase = arkv1.BackupPhaseFailedValidation
			b.Status.ValidationErrors = problems
		})
		if apierrors.IsConflict(err) {
			// Read before another server claimed it (whose files this
			// validation may have seen): the next event tells.
			return ctrl.Result{Requeue: true}, nil
		}
		if err == nil {
			metrics.BackupFinished(string(arkv1.BackupPhaseFailedValidation), 0, 0, 0)
		}
		return ctrl.Result{}, err
	}
	now := metav1.Now()
	ttl := b.Spec.TTL.Duration
	if ttl == 0 {
		ttl = settings.BackupTTL(env.Config, r.DefaultTTL)
	}
	expiration := metav1.NewTime(now.Add(ttl))
	err = claimStatus(ctx, r.Client, &b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseInProgress
		b.Status.Version = archive.FormatVersion
		b.Status.StartTimestamp = &now
		b.Status.Expiration = &expiration
		b.Status.Progress = &arkv1.BackupProgress{}
		if keys != nil {
			// Recorded now, so even a failed run's log says its key.
			e := keys.Encryption()
			b.Status.Encryption = &e
		}
	})
	if apierrors.IsConflict(err) {
		// Another server took it, or this one read a stale copy: the next
		// event on the backup tells which.
		log.Info("backup changed since it was read; not starting it", "error", err)
		return ctrl.Result{Requeue: true}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("marking backup %s InProgress: %w", b.Name, err)
	}
	return ctrl.Result{}, r.run(ctx, log, &b, env, keys)
}

// cancelNew ends a backup cancelled before it started: nothing was written.
func (r *BackupReconciler) cancelNew(ctx context.Context, log *slog.Logger, b *arkv1.Backup) error {
	now := metav1.Now()
	err := claimStatus(ctx, r.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseCancelled
		b.Status.FailureReason = "cancelled by request before it started; nothing was written"
		b.Status.CompletionTimestamp = &now
	})
	if apierrors.IsConflict(err) {
		return nil // changed meanwhile: the next event decides again
	}
	if err != nil {
		return fmt.Errorf("marking backup %s Cancelled: %w", b.Name, err)
	}
	log.Info("backup cancelled before it started")
	metrics.BackupFinished(string(arkv1.BackupPhaseCancelled), 0, 0, 0)
	return nil
}

func (r *BackupReconciler) validate(ctx context.Context, b *arkv1.Backup, env *settings.Environment) []string {
	if env.Config.RestoreOnlyMode {
		return []string{"the Ark server is in restore-only mode (Config restoreOnlyMode: true), so it creates no backups: set restoreOnlyMode to false in Config default to back up"}
	}
	// A storage that cannot be listed now fails the run with the store's
	// own message (PingWithRetry), not the validation.
	if reason, err := env.Store.ReadOnlyReason(ctx); err == nil && reason != "" {
		return []string{readOnlyBackupProblem(reason)}
	}
	if err := r.Discovery.Refresh(); err != nil {
		return []string{err.Error()}
	}
	problems := backup.Validate(b.Spec, r.Discovery)
	if s := b.Spec.SnapshotVolumes; s != nil && *s && env.Volumes == nil {
		problems = append(problems, "snapshotVolumes is true but the Config names no persistentVolumeProvider: configure one, or back up with --snapshot-volumes=false")
	}
	// A backup never writes over another: an older backup of this name
	// (its Backup object deleted with kubectl, its files kept) or another
	// cluster's, on a shared bucket; in a bucket with object lock, the
	// stored one must stay as it is anyway.
	// A bucket that cannot be read fails the backup when it runs, with the
	// store's own message; the run checks again when it claims the name.
	if files, err := env.Store.Files(ctx, backupstore.OwnRef(b.Name)); err == nil && files.Any() {
		problems = append(problems, existingBackupProblem(env.Store.Location(), b.Namespace, b.Name, files.String()))
	}
	return problems
}

// readOnlyBackupProblem is why a backup is refused in a location that holds
// another tool's backups, and the two ways out.
func readOnlyBackupProblem(reason string) string {
	return reason + ". To back up, point backupStorageProvider at a bucket or prefix of Ark's own (its bucket or prefix field), or " +
		strings.TrimPrefix(backupstore.AllowWritesHint, "to ")
}

// existingBackupProblem says that the bucket holds files of a backup named
// name (listed in what) and how to go on.
func existingBackupProblem(location, namespace, name, what string) string {
	return fmt.Sprintf("%s already holds a backup named %q (%s), made earlier by this cluster or by another one sharing the bucket; it is left as it is: give this backup another name; or, to replace the stored one, delete this Backup object (kubectl -n %s delete backup %s), delete the stored backup with 'ark backup delete %s', and create this backup again",
		location, name, what, namespace, name, name)
}

// run takes a backup that is InProgress to Completed, PartiallyFailed,
// Failed or Cancelled. Every outcome is written into the backup's status;
// the error is only that of writing it.
//
// ctx (the reconcile's) writes the status; the work runs under a context
// of its own that a cancel request ends, so the final status is written
// whatever stopped the work.
func (r *BackupReconciler) run(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment, keys *encryption.Keyring) error {
	log.Info("backup started")
	opLog, err := oplog.New(r.Log.Handler())
	if err != nil {
		return r.fail(ctx, log, b, fmt.Sprintf("creating the backup log: %v", err))
	}
	defer opLog.Remove()
	blog := opLog.Logger.With("backup", b.Name)

	key := client.ObjectKeyFromObject(b)
	work, stop := r.running.start(ctx, b.UID, func(ctx context.Context) (bool, error) {
		var current arkv1.Backup
		err := r.Client.Get(ctx, key, &current)
		return current.Spec.Cancel, err
	})
	defer stop()

	if err := env.Store.PingWithRetry(work); err != nil {
		if cancelled(work) {
			return r.cancelled(ctx, log, b, env, nil, nil, 0)
		}
		return r.fail(ctx, log, b, fmt.Sprintf("object storage is not usable: %v", err))
	}
	if reason, err := env.Store.ReadOnlyReason(ctx); err != nil {
		return r.fail(ctx, log, b, fmt.Sprintf("object storage is not usable: %v", err))
	} else if reason != "" {
		return r.fail(ctx, log, b, readOnlyBackupProblem(reason))
	}
	files := env.Store.StartBackup(b.Name, string(b.UID))
	if keys != nil {
		files = env.Store.StartSealedBackup(b.Name, string(b.UID), keys)
	}
	if err := files.Claim(work, b.Status.StartTimestamp.Time); err != nil {
		if cancelled(work) {
			return r.cancelled(ctx, log, b, env, files, nil, 0)
		}
		if exists := (*backupstore.ExistingBackupError)(nil); errors.As(err, &exists) {
			// Another backup of this name appeared since validation: a
			// second cluster on the bucket started one at the same time.
			return r.fail(ctx, log, b, existingBackupProblem(env.Store.Location(), b.Namespace, b.Name, exists.Files.String()))
		}
		return r.fail(ctx, log, b, fmt.Sprintf("writing to %s: %v", env.Store.Location(), err))
	}
	snapshots := r.snapshotter(ctx, log, b, env)
	result, err := r.writeArchive(work, blog, b, env, files, snapshots)
	if err != nil {
		if cancelled(work) {
			blog.Info("backup cancelled")
			return r.cancelled(ctx, log, b, env, files, snapshots.Taken(), itemsSoFar(b))
		}
		blog.Error("backup failed", "error", err)
		left := r.discard(ctx, log, env, files, snapshots.Taken(), "failed")
		// The log stays, so `ark backup logs` says why it failed.
		cleanup, cancel := cleanupContext(ctx)
		defer cancel()
		if err := uploadLog(cleanup, opLog, files.PutFailedLog); err != nil {
			log.Warn("could not upload the log of a failed backup", "error", err)
		}
		return r.fail(ctx, log, b, err.Error(), snapshotsLeft(snapshots.Taken(), left))
	}

	final := b.DeepCopy()
	completed := metav1.Now()
	s := &final.Status
	s.Phase = arkv1.BackupPhaseCompleted
	if result.Errors > 0 {
		s.Phase = arkv1.BackupPhasePartiallyFailed
	}
	s.CompletionTimestamp = &completed
	s.Warnings, s.Errors = result.Warnings, result.Errors
	s.Problems = result.Problems
	s.ResourceCounts = result.ResourceCounts
	if len(result.ExcludedItems) > 0 {
		s.ExcludedItems = result.ExcludedItems
	}
	s.Archive = &arkv1.ArchiveInfo{SHA256: result.Archive.SHA256, Size: result.Archive.Size, Items: result.Archive.Items}
	if enc := files.Encryption(); enc != nil {
		// The stored object is the ciphertext: its digest checks the file
		// at rest without the key; the plaintext's checks what decrypts.
		stored := files.StoredArchive()
		s.Encryption = enc
		s.Archive.PlaintextSHA256, s.Archive.PlaintextSize = s.Archive.SHA256, s.Archive.Size
		s.Archive.SHA256, s.Archive.Size = stored.SHA256, stored.Size
	}
	s.Progress = &arkv1.BackupProgress{TotalItems: result.Archive.Items, ItemsBackedUp: result.Archive.Items}
	if len(result.VolumeBackups) > 0 {
		s.VolumeBackups = result.VolumeBackups
	}
	if result.Hooks.HooksAttempted > 0 {
		s.HookStatus = &result.Hooks
	}
	blog.Info("backup finished", "phase", s.Phase, "items", result.Archive.Items, "warnings", s.Warnings, "errors", s.Errors)

	// The log, then the metadata: the metadata file is written last, so a
	// backup is only ever seen (by sync, by restores) once all of it is there.
	if err := uploadLog(work, opLog, files.PutLog); err != nil {
		if cancelled(work) {
			return r.cancelled(ctx, log, b, env, files, snapshots.Taken(), result.Archive.Items)
		}
		return r.abandon(ctx, log, b, env, files, snapshots.Taken(), fmt.Sprintf("uploading the backup log: %v", err))
	}
	final.ManagedFields = nil
	final.ResourceVersion = ""
	if err := files.PutMetadata(work, final); err != nil {
		if cancelled(work) {
			return r.cancelled(ctx, log, b, env, files, snapshots.Taken(), result.Archive.Items)
		}
		return r.abandon(ctx, log, b, env, files, snapshots.Taken(), fmt.Sprintf("uploading %s: %v", env.Store.MetadataFile(), err))
	}
	if err := files.Finish(ctx); err != nil {
		log.Warn("could not remove the marker of the finished backup run; the next server start removes it", "error", err)
	}
	// Stored whole: a cancel that comes now is too late, and the backup is
	// recorded as what it is.
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) { b.Status = final.Status }); err != nil {
		r.unrecorded.Store(b.UID, final.Status.DeepCopy())
		return fmt.Errorf("backup %s is complete in the bucket but its status could not be written (tried again later): %w", b.Name, err)
	}
	metrics.BackupFinished(string(final.Status.Phase), completed.Sub(b.Status.StartTimestamp.Time), result.Archive.Items, result.Archive.Size)
	log.Info("backup done", "phase", final.Status.Phase, "items", result.Archive.Items,
		"bytes", result.Archive.Size, "seconds", completed.Sub(b.Status.StartTimestamp.Time).Seconds())
	return nil
}

// recordFinal writes the final status of a complete backup whose first
// attempt failed.
func (r *BackupReconciler) recordFinal(ctx context.Context, b *arkv1.Backup, final *arkv1.BackupStatus) error {
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) { b.Status = *final }); err != nil {
		if apierrors.IsNotFound(err) {
			r.unrecorded.Delete(b.UID)
			return nil
		}
		return fmt.Errorf("backup %s is complete in the bucket but its status could not be written (tried again later): %w", b.Name, err)
	}
	r.unrecorded.Delete(b.UID)
	r.Log.Info("backup status written on a later attempt", "backup", b.Namespace+"/"+b.Name, "phase", final.Phase)
	return nil
}

// discardRetrying removes what a failed run wrote, retrying as status
// writes are: object storage that is briefly away (a restart) must not
// leave half a backup behind.
func discardRetrying(ctx context.Context, files *backupstore.BackupRun) error {
	return retry.OnError(finalWriteBackoff, func(error) bool { return ctx.Err() == nil }, func() error {
		return files.Discard(ctx)
	})
}

// snapshotter is the engine's VolumeSnapshotter, recording each snapshot
// in the backup's status as it is taken; nil without a provider.
func (r *BackupReconciler) snapshotter(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment) *takenSnapshots {
	if env.Volumes == nil {
		return nil
	}
	// The progress reporter writes b while the engine runs; the records
	// are patched onto copies of it as it was at the start.
	base := b.DeepCopy()
	return &takenSnapshots{inner: &snapshot.VolumeSnapshotter{Store: env.Volumes}, record: func(taken map[string]*arkv1.VolumeBackupInfo) {
		// The snapshot exists whatever happens to the run: record it even
		// when the run's context has ended.
		if err := patchStatus(context.WithoutCancel(ctx), r.Client, base.DeepCopy(), func(b *arkv1.Backup) { b.Status.VolumeBackups = taken }); err != nil {
			log.Warn("could not record a volume snapshot in the backup's status; it is deleted if the backup does not complete", "error", err)
		}
	}}
}

// itemsSoFar is the progress a running backup last recorded.
func itemsSoFar(b *arkv1.Backup) int {
	if b.Status.Progress == nil {
		return 0
	}
	return b.Status.Progress.ItemsBackedUp
}

// cleanupContext is for the deletions made after the run's own context
// ended: not cancelled with it, but bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// writeArchive streams the engine's archive into the bucket through a pipe,
// so neither memory nor local disk holds the whole backup.
func (r *BackupReconciler) writeArchive(ctx context.Context, blog *slog.Logger, b *arkv1.Backup, env *settings.Environment, files *backupstore.BackupRun, snapshots *takenSnapshots) (*backup.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	uploadDone := make(chan error, 1)
	go func() {
		err := files.PutArchive(ctx, pr)
		pr.CloseWithError(err) // unblocks the engine if the upload failed
		uploadDone <- err
	}()

	// Progress is written with a context the cancel does not end, so the
	// last count before a cancel is recorded.
	statusCtx := context.WithoutCancel(ctx)
	reporter := progress.Start(progressInterval, func(p arkv1.BackupProgress) {
		_ = patchStatus(statusCtx, r.Client, b, func(b *arkv1.Backup) { b.Status.Progress = &p })
	})
	defer reporter.Stop()

	var volumes backup.VolumeSnapshotter
	if snapshots != nil {
		volumes = snapshots
	}
	result, err := backup.Run(ctx, backup.Options{
		// The reporter writes b's status while the engine runs.
		Backup:      b.DeepCopy(),
		Discovery:   r.Discovery,
		Dynamic:     r.Dynamic,
		PageSize:    r.PageSize,
		Volumes:     volumes,
		PodExec:     r.PodExec,
		Log:         blog,
		Progress:    reporter.Update,
		ItemActions: r.ItemActions,
	}, pw)
	pw.CloseWithError(err)
	uploadErr := <-uploadDone
	// When the upload fails the engine's writes fail too; the upload's error
	// is the cause worth reporting.
	if uploadErr != nil {
		return nil, fmt.Errorf("uploading the archive: %w", uploadErr)
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}

// abandon fails a backup whose archive was written but whose other files
// could not be, removing what this run stored (its files, its snapshots) so
// nothing half-written remains.
func (r *BackupReconciler) abandon(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment, files *backupstore.BackupRun, taken map[string]*arkv1.VolumeBackupInfo, reason string) error {
	left := r.discard(ctx, log, env, files, taken, "failed")
	return r.fail(ctx, log, b, reason, snapshotsLeft(taken, left))
}

// discard deletes what a run that is not kept wrote: its files, then its
// volume snapshots. It returns the snapshots it could not delete.
func (r *BackupReconciler) discard(ctx context.Context, log *slog.Logger, env *settings.Environment, files *backupstore.BackupRun, taken map[string]*arkv1.VolumeBackupInfo, what string) map[string]*arkv1.VolumeBackupInfo {
	cleanup, cancel := cleanupContext(ctx)
	defer cancel()
	if err := discardRetrying(cleanup, files); err != nil {
		log.Error("could not remove the files of a "+what+" backup", "error", err)
	}
	left, err := deleteSnapshots(cleanup, env.Volumes, taken)
	if err != nil {
		log.Error("could not delete the volume snapshots of a "+what+" backup; they stay listed in its status for 'ark backup delete'", "error", err, "left", len(left))
	}
	return left
}

// volumeChange is what a run that is not kept did to the snapshots it
// recorded in the status as it took them: taken, of which left remain.
type volumeChange struct {
	taken, left map[string]*arkv1.VolumeBackupInfo
}

func snapshotsLeft(taken, left map[string]*arkv1.VolumeBackupInfo) *volumeChange {
	return &volumeChange{taken: taken, left: left}
}

// cancelled ends a backup whose cancel was requested while it ran: it
// deletes what the run wrote (files, then volume snapshots) and records
// Cancelled, saying what was removed and what could not be.
func (r *BackupReconciler) cancelled(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment, files *backupstore.BackupRun, taken map[string]*arkv1.VolumeBackupInfo, items int) error {
	cleanup, cancel := cleanupContext(ctx)
	defer cancel()
	var discardErr error
	if files != nil {
		discardErr = files.Discard(cleanup)
	}
	left, snapErr := deleteSnapshots(cleanup, env.Volumes, taken)
	reason := cancelReason(b.Name, items, len(taken), discardErr, left, snapErr)
	log.Info("backup cancelled", "items", items, "snapshotsDeleted", len(taken)-len(left), "reason", reason)
	now := metav1.Now()
	b.Status.VolumeBackups = taken // as recorded while it ran
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseCancelled
		b.Status.FailureReason = reason
		b.Status.CompletionTimestamp = &now
		b.Status.VolumeBackups = left
	}); err != nil {
		return fmt.Errorf("marking backup %s Cancelled: %w", b.Name, err)
	}
	metrics.BackupFinished(string(arkv1.BackupPhaseCancelled), ranFor(b.Status.StartTimestamp), 0, 0)
	return nil
}

// cancelReason says what a cancel removed and what it could not.
func cancelReason(name string, items, snapshots int, discardErr error, left map[string]*arkv1.VolumeBackupInfo, snapErr error) string {
	reason := fmt.Sprintf("cancelled by request after %d items; its files were deleted from object storage", items)
	if discardErr != nil {
		reason = fmt.Sprintf("cancelled by request after %d items; some of its files could not be deleted (%v): remove them with 'ark backup delete %s'", items, discardErr, name)
	}
	if snapshots > 0 {
		reason += fmt.Sprintf("; %d of %d volume snapshots deleted", snapshots-len(left), snapshots)
	}
	if snapErr != nil {
		reason += fmt.Sprintf(" (%v: they stay listed in status.volumeBackups; delete them with 'ark backup delete %s')", snapErr, name)
	}
	return reason
}

// fail records a backup as Failed. vc, when set, says which snapshots the
// status lists (those taken) and should list (those left).
func (r *BackupReconciler) fail(ctx context.Context, log *slog.Logger, b *arkv1.Backup, reason string, vc ...*volumeChange) error {
	log.Error("backup failed", "reason", reason)
	now := metav1.Now()
	if len(vc) > 0 && vc[0] != nil {
		b.Status.VolumeBackups = vc[0].taken
	}
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseFailed
		b.Status.FailureReason = reason
		b.Status.CompletionTimestamp = &now
		if len(vc) > 0 && vc[0] != nil {
			b.Status.VolumeBackups = vc[0].left
		}
	}); err != nil {
		return fmt.Errorf("marking backup %s Failed (%s): %w", b.Name, reason, err)
	}
	metrics.BackupFinished(string(arkv1.BackupPhaseFailed), ranFor(b.Status.StartTimestamp), 0, 0)
	return nil
}

// ranFor is how long ago start was, or 0 when the work never started.
func ranFor(start *metav1.Time) time.Duration {
	if start == nil {
		return 0
	}
	return time.Since(start.Time)
}

// uploadLog closes an operation's log and stores it with put.
func uploadLog(ctx context.Context, l *oplog.Log, put func(context.Context, io.Reader) error) error {
	f, err := l.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	return put(ctx, f)
}

// SetupWithManager registers the reconciler, and beside it the watcher
// that stops a running backup when its spec.cancel is set (the backup's
// own worker is busy running it).
func (r *BackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	watcher := &cancelWatcher[*arkv1.Backup]{name: "backup-cancel", client: r.Client, runs: &r.running,
		newObject: func() *arkv1.Backup { return &arkv1.Backup{} },
		requested: func(b *arkv1.Backup) bool { return b.Spec.Cancel }}
	if err := watcher.setup(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("backup").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: max(r.Concurrency, 1)}).For(&arkv1.Backup{}).Complete(r)
}
