package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/oplog"
	"github.com/heptio/ark/internal/progress"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
)

// DefaultBackupTTL is how long a backup is kept when its spec says nothing.
const DefaultBackupTTL = 720 * time.Hour

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
	Log       *slog.Logger
	// ItemActions are the plugins' backup item actions.
	ItemActions []backup.ItemAction
	// Recovery must finish before new backups start.
	Recovery *Interrupted
	// Concurrency is how many backups run at once (at least 1): a fleet of
	// schedules due at the same minute need not queue behind each other.
	Concurrency int
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
	if _, err := r.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil // stays New, as the troubleshooting guide says
	}
	log := r.Log.With("backup", b.Namespace+"/"+b.Name)
	env, err := r.Settings.Environment()
	if err != nil && !settings.IsInvalidConfig(err) {
		return ctrl.Result{}, r.fail(ctx, log, &b, fmt.Sprintf("object storage is not usable: %v", err))
	}
	problems := []string{}
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		problems = r.validate(&b, env)
	}
	if len(problems) > 0 {
		log.Info("backup failed validation", "errors", problems)
		metrics.BackupFinished(string(arkv1.BackupPhaseFailedValidation), 0, 0, 0)
		return ctrl.Result{}, claimStatus(ctx, r.Client, &b, func(b *arkv1.Backup) {
			b.Status.Phase = arkv1.BackupPhaseFailedValidation
			b.Status.ValidationErrors = problems
		})
	}
	now := metav1.Now()
	ttl := b.Spec.TTL.Duration
	if ttl == 0 {
		ttl = DefaultBackupTTL
	}
	expiration := metav1.NewTime(now.Add(ttl))
	err = claimStatus(ctx, r.Client, &b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseInProgress
		b.Status.Version = archive.FormatVersion
		b.Status.StartTimestamp = &now
		b.Status.Expiration = &expiration
		b.Status.Progress = &arkv1.BackupProgress{}
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
	return ctrl.Result{}, r.run(ctx, log, &b, env)
}

func (r *BackupReconciler) validate(b *arkv1.Backup, env *settings.Environment) []string {
	if env.Config.RestoreOnlyMode {
		return []string{"the Ark server is in restore-only mode (Config restoreOnlyMode: true), so it creates no backups: set restoreOnlyMode to false in Config default to back up"}
	}
	if err := r.Discovery.Refresh(); err != nil {
		return []string{err.Error()}
	}
	problems := backup.Validate(b.Spec, r.Discovery)
	if s := b.Spec.SnapshotVolumes; s != nil && *s && env.Volumes == nil {
		problems = append(problems, "snapshotVolumes is true but the Config names no persistentVolumeProvider: configure one, or back up with --snapshot-volumes=false")
	}
	return problems
}

// run takes a backup that is InProgress to Completed, PartiallyFailed or
// Failed. Every outcome is written into the backup's status; the error is
// only that of writing it.
func (r *BackupReconciler) run(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment) error {
	log.Info("backup started")
	opLog, err := oplog.New(r.Log.Handler())
	if err != nil {
		return r.fail(ctx, log, b, fmt.Sprintf("creating the backup log: %v", err))
	}
	defer opLog.Remove()
	blog := opLog.Logger.With("backup", b.Name)

	if err := env.Store.PingWithRetry(ctx); err != nil {
		return r.fail(ctx, log, b, fmt.Sprintf("object storage is not usable: %v", err))
	}
	files := env.Store.StartBackup(b.Name)
	result, err := r.writeArchive(ctx, blog, b, env, files)
	if err != nil {
		blog.Error("backup failed", "error", err)
		if derr := files.Discard(ctx); derr != nil {
			log.Error("could not remove the partial archive of a failed backup", "error", derr)
		}
		// The log stays, so `ark backup logs` says why it failed.
		if err := uploadLog(ctx, opLog, files.PutLog); err != nil {
			log.Warn("could not upload the log of a failed backup", "error", err)
		}
		return r.fail(ctx, log, b, err.Error())
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
	s.Archive = &arkv1.ArchiveInfo{SHA256: result.Archive.SHA256, Size: result.Archive.Size, Items: result.Archive.Items}
	s.Progress = &arkv1.BackupProgress{TotalItems: result.Archive.Items, ItemsBackedUp: result.Archive.Items}
	if len(result.VolumeBackups) > 0 {
		s.VolumeBackups = result.VolumeBackups
	}
	blog.Info("backup finished", "phase", s.Phase, "items", result.Archive.Items, "warnings", s.Warnings, "errors", s.Errors)

	// The log, then the metadata: the metadata file is written last, so a
	// backup is only ever seen (by sync, by restores) once all of it is there.
	if err := uploadLog(ctx, opLog, files.PutLog); err != nil {
		return r.abandon(ctx, log, b, files, fmt.Sprintf("uploading the backup log: %v", err))
	}
	final.ManagedFields = nil
	final.ResourceVersion = ""
	if err := files.PutMetadata(ctx, final); err != nil {
		return r.abandon(ctx, log, b, files, fmt.Sprintf("uploading %s: %v", env.Store.MetadataFile(), err))
	}
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) { b.Status = final.Status }); err != nil {
		return fmt.Errorf("backup %s is stored but its status could not be updated: %w", b.Name, err)
	}
	metrics.BackupFinished(string(final.Status.Phase), completed.Sub(b.Status.StartTimestamp.Time), result.Archive.Items, result.Archive.Size)
	log.Info("backup done", "phase", final.Status.Phase, "items", result.Archive.Items,
		"bytes", result.Archive.Size, "seconds", completed.Sub(b.Status.StartTimestamp.Time).Seconds())
	return nil
}

// writeArchive streams the engine's archive into the bucket through a pipe,
// so neither memory nor local disk holds the whole backup.
func (r *BackupReconciler) writeArchive(ctx context.Context, blog *slog.Logger, b *arkv1.Backup, env *settings.Environment, files *backupstore.BackupRun) (*backup.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	uploadDone := make(chan error, 1)
	go func() {
		err := files.PutArchive(ctx, pr)
		pr.CloseWithError(err) // unblocks the engine if the upload failed
		uploadDone <- err
	}()

	reporter := progress.Start(progressInterval, func(p arkv1.BackupProgress) {
		_ = patchStatus(ctx, r.Client, b, func(b *arkv1.Backup) { b.Status.Progress = &p })
	})
	defer reporter.Stop()

	var volumes backup.VolumeSnapshotter
	if env.Volumes != nil {
		volumes = &snapshot.VolumeSnapshotter{Store: env.Volumes}
	}
	result, err := backup.Run(ctx, backup.Options{
		// The reporter writes b's status while the engine runs.
		Backup:      b.DeepCopy(),
		Discovery:   r.Discovery,
		Dynamic:     r.Dynamic,
		PageSize:    r.PageSize,
		Volumes:     volumes,
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
// could not be, removing what this run stored so nothing half-written
// remains.
func (r *BackupReconciler) abandon(ctx context.Context, log *slog.Logger, b *arkv1.Backup, files *backupstore.BackupRun, reason string) error {
	if err := files.Discard(ctx); err != nil {
		log.Error("could not remove the files of a failed backup", "error", err)
	}
	return r.fail(ctx, log, b, reason)
}

func (r *BackupReconciler) fail(ctx context.Context, log *slog.Logger, b *arkv1.Backup, reason string) error {
	log.Error("backup failed", "reason", reason)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, r.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase = arkv1.BackupPhaseFailed
		b.Status.FailureReason = reason
		b.Status.CompletionTimestamp = &now
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

// SetupWithManager registers the reconciler.
func (r *BackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("backup").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: max(r.Concurrency, 1)}).For(&arkv1.Backup{}).Complete(r)
}
