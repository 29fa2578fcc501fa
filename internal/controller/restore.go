package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/oplog"
	"github.com/heptio/ark/internal/progress"
	"github.com/heptio/ark/internal/restore"
	"github.com/heptio/ark/internal/restorefiles"
	"github.com/heptio/ark/internal/restoreplan"
	"github.com/heptio/ark/internal/settings"
	"github.com/heptio/ark/internal/snapshot"
	"github.com/heptio/ark/internal/tempfiles"
)

// RestoreReconciler runs restores in phase New.
type RestoreReconciler struct {
	Client client.Client
	// Reader reads what the manager does not cache (the resource modifier
	// ConfigMaps); nil means Client.
	Reader    client.Reader
	Settings  *settings.Settings
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	// Workers is how many items of one resource are created in parallel.
	Workers int
	// VolumeTimeout bounds the wait for a volume created from a snapshot.
	VolumeTimeout time.Duration
	// PodExec runs restore exec hooks in restored pods (pods/exec).
	PodExec  hooks.PodExecutor
	Log      *slog.Logger
	Recovery *Interrupted
	// ArchiveLimits bound what a restore accepts from an archive.
	ArchiveLimits archive.Limits
	// Concurrency is how many restores run at once (at least 1).
	Concurrency int
	// ItemActions are the plugins' restore item actions.
	ItemActions []restore.ItemAction

	// running are the restores this server runs, for cancel requests.
	running runs
}

// Reconcile validates and runs a new restore.
func (r *RestoreReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var rs arkv1.Restore
	if err := r.Client.Get(ctx, req.NamespacedName, &rs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rs.DeletionTimestamp.IsZero() || (rs.Status.Phase != "" && rs.Status.Phase != arkv1.RestorePhaseNew) {
		return ctrl.Result{}, nil
	}
	if !r.Recovery.recovered() {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	log := r.Log.With("restore", rs.Namespace+"/"+rs.Name)
	if rs.Spec.Cancel {
		return ctrl.Result{}, r.cancelNew(ctx, log, &rs)
	}
	if _, err := r.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	env, err := r.Settings.Environment()
	if err != nil && !settings.IsInvalidConfig(err) {
		return ctrl.Result{}, r.fail(ctx, log, &rs, fmt.Sprintf("object storage is not usable: %v", err))
	}
	var problems []string
	var b *arkv1.Backup
	var modifiers *restore.Modifiers
	if err != nil {
		problems = []string{err.Error()}
	} else {
		b, modifiers, problems = r.validate(ctx, &rs, env)
	}
	if len(problems) > 0 {
		log.Info("restore failed validation", "errors", problems)
		metrics.RestoreFinished(string(arkv1.RestorePhaseFailedValidation), 0)
		return ctrl.Result{}, claimStatus(ctx, r.Client, &rs, func(rs *arkv1.Restore) {
			rs.Status.Phase = arkv1.RestorePhaseFailedValidation
			rs.Status.ValidationErrors = problems
		})
	}
	now := metav1.Now()
	err = claimStatus(ctx, r.Client, &rs, func(rs *arkv1.Restore) {
		rs.Status.Phase = arkv1.RestorePhaseInProgress
		rs.Status.StartTimestamp = &now
		rs.Status.Progress = &arkv1.RestoreProgress{}
	})
	if apierrors.IsConflict(err) {
		log.Info("restore changed since it was read; not starting it", "error", err)
		return ctrl.Result{Requeue: true}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("marking restore %s InProgress: %w", rs.Name, err)
	}
	return ctrl.Result{}, r.run(ctx, log, &rs, b, modifiers, env)
}

// cancelNew ends a restore cancelled before it started: nothing was created.
func (r *RestoreReconciler) cancelNew(ctx context.Context, log *slog.Logger, rs *arkv1.Restore) error {
	now := metav1.Now()
	err := claimStatus(ctx, r.Client, rs, func(rs *arkv1.Restore) {
		rs.Status.Phase = arkv1.RestorePhaseCancelled
		rs.Status.FailureReason = "cancelled by request before it started; nothing was restored"
		rs.Status.CompletionTimestamp = &now
	})
	if apierrors.IsConflict(err) {
		return nil // changed meanwhile: the next event decides again
	}
	if err != nil {
		return fmt.Errorf("marking restore %s Cancelled: %w", rs.Name, err)
	}
	log.Info("restore cancelled before it started")
	metrics.RestoreFinished(string(arkv1.RestorePhaseCancelled), 0)
	return nil
}

func (r *RestoreReconciler) validate(ctx context.Context, rs *arkv1.Restore, env *settings.Environment) (*arkv1.Backup, *restore.Modifiers, []string) {
	if rs.Spec.BackupName == "" && rs.Spec.ScheduleName != "" {
		if problem := r.pickScheduledBackup(ctx, rs); problem != "" {
			return nil, nil, append(restore.Validate(rs.Spec, nil, "", nil), problem)
		}
	}
	spec := rs.Spec
	if spec.BackupName == "" {
		return nil, nil, restore.Validate(spec, nil, "", nil)
	}
	if err := r.Discovery.Refresh(); err != nil {
		return nil, nil, []string{err.Error()}
	}
	b, err := r.findBackup(ctx, rs.Namespace, spec.BackupName, env)
	if err != nil {
		return nil, nil, append(restore.Validate(spec, nil, "", nil), err.Error())
	}
	// Resource names are checked against the cluster and the backup: the
	// custom resources of a CRD that only the backup has are restorable.
	var backedUp []string
	if b.Status.ResourceCounts != nil {
		backedUp = slices.Sorted(maps.Keys(b.Status.ResourceCounts))
	}
	problems := restore.Validate(spec, r.Discovery, b.Name, backedUp)
	switch b.Status.Phase {
	case arkv1.BackupPhaseCompleted, arkv1.BackupPhasePartiallyFailed:
	default:
		phase := b.Status.Phase
		if phase == "" {
			phase = arkv1.BackupPhaseNew
		}
		problems = append(problems, fmt.Sprintf("backup %q is %s, not Completed or PartiallyFailed: only a finished backup can be restored (see 'ark backup describe %s')", b.Name, phase, b.Name))
	}
	if p := spec.RestorePVs; (p == nil || *p) && len(b.Status.VolumeBackups) > 0 && env.Volumes == nil {
		// An unset restorePVs means "restore the snapshots" for a backup that
		// has some; going ahead without a provider would silently point the
		// PVs at volumes that may no longer exist.
		setting := "restorePVs is true"
		if p == nil {
			setting = "restorePVs is unset, which means true for a backup with snapshots,"
		}
		problems = append(problems, fmt.Sprintf("backup %q has %d volume snapshot(s) and %s but the Config names no persistentVolumeProvider to restore them with: add the persistentVolumeProvider that took them to Config %s/%s, or restore the PVs as objects only with --restore-volumes=false",
			b.Name, len(b.Status.VolumeBackups), setting, env.Config.Namespace, env.Config.Name))
	}
	if s := spec.ScheduleName; s != "" && arkv1.ScheduleName(b) != s {
		problems = append(problems, fmt.Sprintf("backup %q was not made by schedule %q (it was made by %q): give either --from-backup or --from-schedule", b.Name, s, arkv1.ScheduleName(b)))
	}
	modifiers, more := r.readModifiers(ctx, rs)
	return b, modifiers, append(problems, more...)
}

// findBackup reads the Backup object, or, when the cluster does not have it
// (a new cluster pointed at an old bucket), its metadata file, which it then
// creates in the cluster.
func (r *RestoreReconciler) findBackup(ctx context.Context, namespace, name string, env *settings.Environment) (*arkv1.Backup, error) {
	var b arkv1.Backup
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &b)
	if err == nil {
		return &b, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	stored, err := env.Store.FindMetadata(ctx, name)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, fmt.Errorf("backup %q not found in namespace %s nor in %s: check the name with 'ark backup get'", name, namespace, env.Store.Location())
	}
	if err != nil {
		return nil, fmt.Errorf("reading backup %q from object storage: %w", name, err)
	}
	if err := createFromStore(ctx, r.Client, namespace, stored); err != nil {
		r.Log.Warn("could not create the Backup object read from object storage", "backup", name, "error", err)
	}
	return stored, nil
}

// run takes a restore that is InProgress to Completed, PartiallyFailed,
// Failed or Cancelled. The error is only that of writing its status.
//
// ctx (the reconcile's) writes the status and uploads the results; the
// work runs under a context of its own that a cancel request ends.
func (r *RestoreReconciler) run(ctx context.Context, log *slog.Logger, rs *arkv1.Restore, b *arkv1.Backup, modifiers *restore.Modifiers, env *settings.Environment) error {
	log.Info("restore started", "backup", b.Name)
	opLog, err := oplog.New(r.Log.Handler())
	if err != nil {
		return r.fail(ctx, log, rs, fmt.Sprintf("creating the restore log: %v", err))
	}
	defer opLog.Remove()
	rlog := opLog.Logger.With("restore", rs.Name)

	key := client.ObjectKeyFromObject(rs)
	work, stop := r.running.start(ctx, rs.UID, func(ctx context.Context) (bool, error) {
		var current arkv1.Restore
		err := r.Client.Get(ctx, key, &current)
		return current.Spec.Cancel, err
	})
	defer stop()

	result, err := r.restore(work, ctx, rlog, rs, b, modifiers, env)
	if err != nil && cancelled(work) {
		return r.cancelled(ctx, log, rlog, env, rs, b, opLog, result)
	}
	if err != nil {
		rlog.Error("restore failed", "error", err)
		filesConfigMap := r.storeRestoreFiles(ctx, log, env, rs, b, opLog, nil)
		return r.fail(ctx, log, rs, err.Error(), filesConfigMap)
	}
	completed := metav1.Now()
	warnings, errs := countResult(result.Warnings), countResult(result.Errors)
	rlog.Info("restore finished", "items", result.ItemsRestored, "warnings", warnings, "errors", errs)
	filesConfigMap := r.storeRestoreFiles(ctx, log, env, rs, b, opLog, result)
	phase := arkv1.RestorePhaseCompleted
	if errs > 0 {
		phase = arkv1.RestorePhasePartiallyFailed
	}
	if result.Plan != nil {
		phase = arkv1.RestorePhasePreviewed
	}
	if err := patchStatusRetrying(ctx, r.Client, rs, func(rs *arkv1.Restore) {
		rs.Status.Phase = phase
		rs.Status.Warnings, rs.Status.Errors = warnings, errs
		rs.Status.CompletionTimestamp = &completed
		rs.Status.Progress = &arkv1.RestoreProgress{TotalItems: result.TotalItems, ItemsRestored: result.ItemsRestored}
		rs.Status.UnverifiedArchive = result.UnverifiedArchive
		rs.Status.FilesConfigMap = filesConfigMap
		rs.Status.ItemsUpdated, rs.Status.ItemsUnchanged = result.ItemsUpdated, result.ItemsUnchanged
		rs.Status.HookStatus = result.Hooks
		if result.Plan != nil {
			rs.Status.Plan = &result.Plan.Counts
		}
	}); err != nil {
		return fmt.Errorf("recording the result of restore %s: %w", rs.Name, err)
	}
	started := rs.Status.StartTimestamp.Time
	metrics.RestoreFinished(string(phase), completed.Sub(started))
	log.Info("restore done", "phase", phase, "items", result.ItemsRestored, "seconds", completed.Sub(started).Seconds())
	return nil
}

// cancelled ends a restore whose cancel was requested while it ran. What it
// created stays; the log and the results of what it did are stored, and the
// status counts what was and was not restored. result is nil when the
// cancel came before the first object was created.
func (r *RestoreReconciler) cancelled(ctx context.Context, log, rlog *slog.Logger, env *settings.Environment, rs *arkv1.Restore, b *arkv1.Backup, opLog *oplog.Log, result *restore.Result) error {
	if result == nil {
		result = &restore.Result{}
	}
	warnings, errs := countResult(result.Warnings), countResult(result.Errors)
	notRestored := max(result.TotalItems-result.ItemsRestored, 0)
	reason := fmt.Sprintf("cancelled by request: %d of %d items restored (kept), %d not restored", result.ItemsRestored, result.TotalItems, notRestored)
	if result.TotalItems == 0 {
		reason = "cancelled by request before any object was created"
	}
	rlog.Info("restore cancelled", "itemsRestored", result.ItemsRestored, "itemsNotRestored", notRestored, "warnings", warnings, "errors", errs)
	filesConfigMap := r.storeRestoreFiles(ctx, log, env, rs, b, opLog, result)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, r.Client, rs, func(rs *arkv1.Restore) {
		rs.Status.Phase = arkv1.RestorePhaseCancelled
		rs.Status.FailureReason = reason
		rs.Status.FilesConfigMap = filesConfigMap
		rs.Status.Warnings, rs.Status.Errors = warnings, errs
		rs.Status.CompletionTimestamp = &now
		rs.Status.Progress = &arkv1.RestoreProgress{TotalItems: result.TotalItems, ItemsRestored: result.ItemsRestored, ItemsNotRestored: notRestored}
		rs.Status.ItemsUpdated, rs.Status.ItemsUnchanged = result.ItemsUpdated, result.ItemsUnchanged
	}); err != nil {
		return fmt.Errorf("marking restore %s Cancelled: %w", rs.Name, err)
	}
	metrics.RestoreFinished(string(arkv1.RestorePhaseCancelled), ranFor(rs.Status.StartTimestamp))
	log.Info("restore cancelled", "reason", reason)
	return nil
}

// restore downloads the archive into a private temporary directory, checks
// it against the digest the backup recorded and against its own index, and
// only then creates anything.
//
// ctx is the work's (a cancel ends it); statusCtx writes the progress, so
// the last count before a cancel is recorded. On an error from the engine
// the result of what it did is returned with it.
func (r *RestoreReconciler) restore(ctx, statusCtx context.Context, rlog *slog.Logger, rs *arkv1.Restore, b *arkv1.Backup, modifiers *restore.Modifiers, env *settings.Environment) (*restore.Result, error) {
	var keys backupstore.Sealer
	if e := b.Status.Encryption; e != nil {
		k, err := env.Keys(ctx)
		if err != nil {
			return nil, fmt.Errorf("backup %q is encrypted (to %s), and its key could not be read: %w", b.Name, e.Recipient, err)
		}
		if k == nil {
			return nil, fmt.Errorf("backup %q is encrypted (%s, to %s; its key was in Secret %s) and Config %s/%s names no encryption Secret: set encryption.secretName to the Secret holding that key (see docs/encryption.md); nothing was restored",
				b.Name, e.Format, e.Recipient, e.SecretName, env.Config.Namespace, env.Config.Name)
		}
		keys = k
	}
	stream, err := env.Store.OpenArchive(ctx, b, keys)
	if err != nil {
		return nil, fmt.Errorf("opening the archive of backup %q: %w", b.Name, err)
	}
	defer stream.Close()
	dir, held, err := tempfiles.MkdirTemp("", RestoreTempPattern)
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir); _ = held.Release() }()
	limits := r.ArchiveLimits
	// A backup that records its archive's digest was written by this Ark,
	// whose archives always carry an index: one without is not the same
	// archive, whatever else it looks like.
	limits.RequireIndex = b.Status.Archive != nil
	contents, err := archive.Extract(stream, dir+"/archive", limits)
	if err != nil {
		return nil, fmt.Errorf("the archive of backup %q is not usable, nothing was restored: %w", b.Name, err)
	}
	defer contents.Close()
	// What could not be checked is said once: in the log here, and in the
	// restore's status through the engine's result.
	digestNote := ""
	if b.Status.Archive != nil {
		// Verify reads to the end, so the digests cover the whole object.
		if err := stream.Verify(); err != nil {
			return nil, fmt.Errorf("the archive of backup %q is not the one the backup wrote, nothing was restored: %w", b.Name, err)
		}
	} else {
		digestNote = "; the backup records no digest of the whole archive either"
	}
	if note := contents.Format.Unverified(); note != "" {
		rlog.Warn("restoring an archive that could not be verified item by item", "note", note+digestNote)
	} else if digestNote != "" {
		rlog.Warn("the backup records no archive digest (made by an older Ark); only the archive's own index was checked")
	}
	// "verified" only when every item was checked against the index.
	readMsg := "archive verified"
	if contents.Format.Unverified() != "" {
		readMsg = "archive read"
	}
	rlog.Info(readMsg, "items", contents.Items, "sha256", stream.SHA256(), "encrypted", b.Status.Encryption != nil, "format", contents.Format.Origin, "indexed", contents.Format.Indexed)

	var plan *restoreplan.Spool
	if rs.Spec.DryRun {
		if plan, err = restoreplan.NewSpool(dir); err != nil {
			return nil, err
		}
		defer plan.Close()
	}
	var volumes restore.VolumeRestorer
	if env.Volumes != nil && (rs.Spec.RestorePVs == nil || *rs.Spec.RestorePVs) && !rs.Spec.DryRun {
		volumes = snapshot.NewVolumeRestorer(env.Volumes, r.VolumeTimeout, rlog, r.Dynamic)
	}
	reporter := progress.Start(progressInterval, func(p arkv1.RestoreProgress) {
		_ = patchStatus(statusCtx, r.Client, rs, func(rs *arkv1.Restore) { rs.Status.Progress = &p })
	})
	defer reporter.Stop()
	result, err := restore.Run(ctx, restore.Options{
		// The reporter writes rs's status while the engine runs.
		Restore:     rs.DeepCopy(),
		Backup:      b.DeepCopy(),
		Contents:    contents,
		Discovery:   r.Discovery,
		Dynamic:     r.Dynamic,
		Priorities:  env.Config.ResourcePriorities,
		Workers:     r.Workers,
		Volumes:     volumes,
		Modifiers:   modifiers,
		PodExec:     r.PodExec,
		Log:         rlog,
		Progress:    reporter.Update,
		DryRun:      rs.Spec.DryRun,
		Plan:        recorder(plan),
		ItemActions: r.ItemActions,
	})
	if err != nil {
		return &result, err
	}
	if result.UnverifiedArchive != "" {
		result.UnverifiedArchive += digestNote
	}
	// What the backup holds that Ark does not restore (volume data another
	// tool kept elsewhere) is a warning of every restore of it.
	if o := b.Status.Origin; o != nil {
		for _, note := range o.Notes {
			result.Warnings.Ark = append(result.Warnings.Ark, note)
		}
	}
	if plan != nil {
		if readOnly := restoreFilesReadOnly(ctx, env, b); readOnly != "" {
			result.Warnings.Ark = append(result.Warnings.Ark, fmt.Sprintf("the plan of each item was not stored (%s): the counts in the restore's status are all this dry run keeps", readOnly))
		} else if err := storePlan(ctx, env, rs, b, plan, result.Plan); err != nil {
			return nil, err
		}
	}
	return &result, nil
}

// RestoreTempPattern names the temporary directories restores extract
// archives into, so a server that starts can remove those a crashed one
// left behind (tempfiles.RemoveStale: a live server holds a lock on each of
// its own).
const RestoreTempPattern = "ark-restore-*"

// restoreFilesReadOnly says why a restore of b may write nothing beside
// the backup in object storage, or "" when it may.
func restoreFilesReadOnly(ctx context.Context, env *settings.Environment, b *arkv1.Backup) string {
	readOnly, err := env.Store.ReadOnlyReason(ctx)
	if err != nil {
		// Unsure whether the location is Ark's: the cluster is safe.
		readOnly = fmt.Sprintf("could not tell whether %s is Ark's to write (%v)", env.Store.Location(), err)
	}
	if readOnly == "" && backupstore.RefOf(b).Layout != arkv1.BackupLayoutArk && !env.Config.BackupStorageProvider.AllowWritesAlongsideOtherTools {
		readOnly = "the backup was written by another tool"
	}
	return readOnly
}

// storeRestoreFiles stores the log and the results with the backup, or,
// when the backup's location is read-only for Ark (it holds another tool's
// backups), in a ConfigMap in the cluster whose name it returns. A failure is
// logged: the restore itself already happened.
func (r *RestoreReconciler) storeRestoreFiles(ctx context.Context, log *slog.Logger, env *settings.Environment, rs *arkv1.Restore, b *arkv1.Backup, opLog *oplog.Log, result *restore.Result) string {
	if readOnly := restoreFilesReadOnly(ctx, env, b); readOnly != "" {
		log.Info("keeping the restore's log and results in the cluster", "reason", readOnly)
		var warnings, errs *arkv1.RestoreResult
		if result != nil {
			warnings, errs = &result.Warnings, &result.Errors
		}
		var body io.Reader
		f, err := opLog.Open()
		if err != nil {
			log.Error("reading the restore log", "error", err)
		} else {
			defer f.Close()
			body = f
		}
		name, err := restorefiles.Keep(ctx, r.Client, rs, body, warnings, errs)
		if err != nil {
			log.Error("keeping the restore's log and results in the cluster", "error", err)
			return ""
		}
		return name
	}
	ref := backupstore.RefOf(b)
	putLog := func(ctx context.Context, body io.Reader) error {
		return env.Store.PutRestoreLog(ctx, ref, rs.Name, body)
	}
	if err := uploadLog(ctx, opLog, putLog); err != nil {
		log.Error("uploading the restore log", "error", err)
	}
	if result == nil {
		return ""
	}
	if err := env.Store.PutRestoreResults(ctx, ref, rs.Name, result.Warnings, result.Errors); err != nil {
		log.Error("uploading the restore results", "error", err)
	}
	return ""
}

// fail marks a restore Failed; filesConfigMap is where its log is kept, if
// in the cluster.
func (r *RestoreReconciler) fail(ctx context.Context, log *slog.Logger, rs *arkv1.Restore, reason string, filesConfigMap ...string) error {
	log.Error("restore failed", "reason", reason)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, r.Client, rs, func(rs *arkv1.Restore) {
		rs.Status.Phase = arkv1.RestorePhaseFailed
		rs.Status.FailureReason = reason
		rs.Status.CompletionTimestamp = &now
		if len(filesConfigMap) > 0 {
			rs.Status.FilesConfigMap = filesConfigMap[0]
		}
	}); err != nil {
		return fmt.Errorf("marking restore %s Failed (%s): %w", rs.Name, reason, err)
	}
	metrics.RestoreFinished(string(arkv1.RestorePhaseFailed), ranFor(rs.Status.StartTimestamp))
	return nil
}

// SetupWithManager registers the reconciler, and beside it the watcher
// that stops a running restore when its spec.cancel is set.
func (r *RestoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	watcher := &cancelWatcher[*arkv1.Restore]{name: "restore-cancel", client: r.Client, runs: &r.running,
		newObject: func() *arkv1.Restore { return &arkv1.Restore{} },
		requested: func(rs *arkv1.Restore) bool { return rs.Spec.Cancel }}
	if err := watcher.setup(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("restore").
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: max(r.Concurrency, 1)}).For(&arkv1.Restore{}).Complete(r)
}

func countResult(r arkv1.RestoreResult) int {
	n := len(r.Ark) + len(r.Cluster)
	for _, msgs := range r.Namespaces {
		n += len(msgs)
	}
	return n
}
