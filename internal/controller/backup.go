package controller

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/objectstore"
)

// DefaultBackupTTL is how long a backup is kept when its spec says nothing.
const DefaultBackupTTL = 720 * time.Hour

// progressInterval bounds how often a running backup or restore writes its
// progress into its status.
const progressInterval = time.Second

// BackupReconciler runs backups in phase New, one at a time.
type BackupReconciler struct {
	Client    client.Client
	Settings  *Settings
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	PageSize  int64
	Log       *slog.Logger
	// Recovery must finish before new backups start.
	Recovery *Interrupted
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
	env, err := r.Settings.Current()
	if errors.Is(err, ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil // stays New, as the troubleshooting guide says
	}
	log := r.Log.With("backup", b.Namespace+"/"+b.Name)
	if err != nil && !IsInvalidConfig(err) {
		r.fail(ctx, log, &b, fmt.Sprintf("object storage is not usable: %v", err))
		return ctrl.Result{}, nil
	}
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		problems = r.validate(&b, env)
	}
	if len(problems) > 0 {
		log.Info("backup failed validation", "errors", problems)
		metrics.BackupFinished(string(arkv1.BackupPhaseFailedValidation), 0, 0, 0)
		return ctrl.Result{}, r.patchStatus(ctx, &b, func(s *arkv1.BackupStatus) {
			s.Phase = arkv1.BackupPhaseFailedValidation
			s.ValidationErrors = problems
		})
	}
	r.run(ctx, log, &b, env)
	return ctrl.Result{}, nil
}

func (r *BackupReconciler) validate(b *arkv1.Backup, env *Environment) []string {
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

// run takes a valid backup to Completed, PartiallyFailed or Failed. It never
// returns an error: every outcome is written into the backup's status.
func (r *BackupReconciler) run(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *Environment) {
	now := metav1.Now()
	ttl := b.Spec.TTL.Duration
	if ttl == 0 {
		ttl = DefaultBackupTTL
	}
	expiration := metav1.NewTime(now.Add(ttl))
	if err := r.patchStatus(ctx, b, func(s *arkv1.BackupStatus) {
		s.Phase = arkv1.BackupPhaseInProgress
		s.Version = archive.FormatVersion
		s.StartTimestamp = &now
		s.Expiration = &expiration
		s.Progress = &arkv1.BackupProgress{}
	}); err != nil {
		log.Error("could not mark the backup InProgress", "error", err)
		return
	}
	log.Info("backup started")

	logFile, err := newGzipLog(r.Log.Handler())
	if err != nil {
		r.fail(ctx, log, b, fmt.Sprintf("creating the backup log: %v", err))
		return
	}
	defer logFile.Remove()
	blog := logFile.Logger.With("backup", b.Name)

	if err := pingWithRetry(ctx, env.Store); err != nil {
		r.fail(ctx, log, b, fmt.Sprintf("object storage is not usable: %v", err))
		return
	}

	result, err := r.writeArchive(ctx, blog, b, env)
	if err != nil {
		blog.Error("backup failed", "error", err)
		r.uploadLogBestEffort(ctx, env, b, logFile)
		_ = env.Store.Objects.DeleteObject(ctx, env.Store.Bucket, backupstore.ArchiveKey(b.Name))
		r.fail(ctx, log, b, err.Error())
		return
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

	// The log, then the metadata: ark-backup.json is written last, so a
	// backup is only ever seen (by sync, by restores) once all of it is there.
	if err := logFile.Close(); err == nil {
		err = r.uploadLog(ctx, env, b.Name, logFile)
		if err != nil {
			r.abandon(ctx, log, b, env, fmt.Sprintf("uploading the backup log: %v", err))
			return
		}
	}
	final.ManagedFields = nil
	final.ResourceVersion = ""
	if err := env.Store.PutMetadata(ctx, final); err != nil {
		r.abandon(ctx, log, b, env, fmt.Sprintf("uploading %s: %v", backupstore.MetadataFile, err))
		return
	}
	if err := r.patchStatus(ctx, b, func(st *arkv1.BackupStatus) { *st = final.Status }); err != nil {
		log.Error("backup is stored but its status could not be updated; backup sync will restore it", "error", err)
		return
	}
	metrics.BackupFinished(string(final.Status.Phase), completed.Sub(now.Time), result.Archive.Items, result.Archive.Size)
	log.Info("backup done", "phase", final.Status.Phase, "items", result.Archive.Items,
		"bytes", result.Archive.Size, "seconds", completed.Sub(now.Time).Seconds())
}

// writeArchive streams the engine's archive into the bucket through a pipe,
// so neither memory nor local disk holds the whole backup.
func (r *BackupReconciler) writeArchive(ctx context.Context, blog *slog.Logger, b *arkv1.Backup, env *Environment) (*backup.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	uploadDone := make(chan error, 1)
	go func() {
		err := env.Store.PutArchive(ctx, b.Name, pr)
		pr.CloseWithError(err) // unblocks the engine if the upload failed
		uploadDone <- err
	}()

	reporter := newProgressReporter(func(p arkv1.BackupProgress) {
		_ = r.patchStatus(ctx, b, func(s *arkv1.BackupStatus) { s.Progress = &p })
	})
	defer reporter.stop()

	var volumes backup.VolumeSnapshotter
	if env.Volumes != nil {
		volumes = &volumeSnapshotter{store: env.Volumes}
	}
	result, err := backup.Run(ctx, backup.Options{
		Backup:    b,
		Discovery: r.Discovery,
		Dynamic:   r.Dynamic,
		PageSize:  r.PageSize,
		Volumes:   volumes,
		Log:       blog,
		Progress:  reporter.update,
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
// could not be, removing what it stored so nothing half-written remains.
func (r *BackupReconciler) abandon(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *Environment, reason string) {
	if err := env.Store.DeleteBackup(ctx, b.Name); err != nil {
		log.Error("could not remove the files of a failed backup", "error", err)
	}
	r.fail(ctx, log, b, reason)
}

func (r *BackupReconciler) fail(ctx context.Context, log *slog.Logger, b *arkv1.Backup, reason string) {
	log.Error("backup failed", "reason", reason)
	now := metav1.Now()
	if err := r.patchStatus(ctx, b, func(s *arkv1.BackupStatus) {
		s.Phase = arkv1.BackupPhaseFailed
		s.FailureReason = reason
		s.CompletionTimestamp = &now
	}); err != nil {
		log.Error("could not mark the backup Failed", "error", err)
	}
	metrics.BackupFinished(string(arkv1.BackupPhaseFailed), ranFor(b.Status.StartTimestamp), 0, 0)
}

// ranFor is how long ago start was, or 0 when the work never started.
func ranFor(start *metav1.Time) time.Duration {
	if start == nil {
		return 0
	}
	return time.Since(start.Time)
}

func (r *BackupReconciler) uploadLog(ctx context.Context, env *Environment, name string, lf *gzipLog) error {
	f, err := os.Open(lf.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	return env.Store.PutFile(ctx, backupstore.LogKey(name), f)
}

func (r *BackupReconciler) uploadLogBestEffort(ctx context.Context, env *Environment, b *arkv1.Backup, lf *gzipLog) {
	if err := lf.Close(); err == nil {
		_ = r.uploadLog(ctx, env, b.Name, lf)
	}
}

// patchStatus applies mutate to the backup's status with a merge patch and
// keeps b in step with what was written.
func (r *BackupReconciler) patchStatus(ctx context.Context, b *arkv1.Backup, mutate func(*arkv1.BackupStatus)) error {
	orig := b.DeepCopy()
	mutate(&b.Status)
	return r.Client.Status().Patch(ctx, b, client.MergeFrom(orig))
}

// SetupWithManager registers the reconciler.
func (r *BackupReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("backup").For(&arkv1.Backup{}).Complete(r)
}

// removeLegacyFinalizer drops Heptio Ark v0.7's gc.ark.heptio.com finalizer,
// which this Ark never needs: deleting a Backup object must never hang.
func removeLegacyFinalizer(ctx context.Context, c client.Client, b *arkv1.Backup) error {
	if !controllerutil.ContainsFinalizer(b, arkv1.LegacyGCFinalizer) {
		return nil
	}
	orig := b.DeepCopy()
	controllerutil.RemoveFinalizer(b, arkv1.LegacyGCFinalizer)
	err := c.Patch(ctx, b, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// pingWithRetry checks the bucket, retrying transient failures with backoff.
// A missing bucket or refused credentials will not heal by waiting, so those
// fail at once.
func pingWithRetry(ctx context.Context, store *backupstore.Store) error {
	delay := time.Second
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		if err = store.Ping(ctx); err == nil {
			return nil
		}
		if errors.Is(err, objectstore.ErrBucketNotFound) || errors.Is(err, objectstore.ErrAccessDenied) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	return err
}

// progressReporter passes on the latest progress at most once per interval.
type progressReporter struct {
	mu      sync.Mutex
	latest  *arkv1.BackupProgress
	publish func(arkv1.BackupProgress)
	done    chan struct{}
	wg      sync.WaitGroup
}

func newProgressReporter(publish func(arkv1.BackupProgress)) *progressReporter {
	p := &progressReporter{publish: publish, done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(progressInterval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.mu.Lock()
				latest := p.latest
				p.latest = nil
				p.mu.Unlock()
				if latest != nil {
					p.publish(*latest)
				}
			}
		}
	}()
	return p
}

func (p *progressReporter) update(pr arkv1.BackupProgress) {
	p.mu.Lock()
	p.latest = &pr
	p.mu.Unlock()
}

func (p *progressReporter) stop() { close(p.done); p.wg.Wait() }

// gzipLog is a backup's or restore's own log: written gzipped to a temporary
// file as the work runs, uploaded at the end.
type gzipLog struct {
	Path   string
	Logger *slog.Logger
	file   *os.File
	zw     *gzip.Writer
	mu     sync.Mutex
	closed bool
}

// newGzipLog makes a log that also goes to the server's own handler.
func newGzipLog(server slog.Handler) (*gzipLog, error) {
	f, err := os.CreateTemp("", "ark-log-*.gz")
	if err != nil {
		return nil, err
	}
	l := &gzipLog{Path: f.Name(), file: f, zw: gzip.NewWriter(f)}
	own := slog.NewTextHandler(lockedWriter{l}, &slog.HandlerOptions{Level: slog.LevelInfo})
	l.Logger = slog.New(teeHandler{own, server})
	return l, nil
}

type lockedWriter struct{ l *gzipLog }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.closed {
		return len(p), nil
	}
	return w.l.zw.Write(p)
}

// Close flushes the log; later writes are dropped.
func (l *gzipLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if err := l.zw.Close(); err != nil {
		return err
	}
	return l.file.Close()
}

// Remove deletes the temporary file.
func (l *gzipLog) Remove() { _ = l.Close(); _ = os.Remove(l.Path) }

// teeHandler sends each record to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	if t.a.Enabled(ctx, r.Level) {
		_ = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		return t.b.Handle(ctx, r)
	}
	return nil
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}
