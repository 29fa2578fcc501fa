package controller

import (
	"bytes"
	"context"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/kube"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/restore"
)

// RestoreReconciler runs restores in phase New, one at a time.
type RestoreReconciler struct {
	Client    client.Client
	Settings  *Settings
	Discovery *kube.Discovery
	Dynamic   dynamic.Interface
	// Workers is how many items of one resource are created in parallel.
	Workers int
	// VolumeTimeout bounds the wait for a volume created from a snapshot.
	VolumeTimeout time.Duration
	Log           *slog.Logger
	Recovery      *Interrupted
	// ArchiveLimits bound what a restore accepts from an archive.
	ArchiveLimits archive.Limits
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
	env, err := r.Settings.Current()
	if errors.Is(err, ErrNoConfig) {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	log := r.Log.With("restore", rs.Namespace+"/"+rs.Name)
	if err != nil && !IsInvalidConfig(err) {
		r.fail(ctx, log, &rs, fmt.Sprintf("object storage is not usable: %v", err))
		return ctrl.Result{}, nil
	}
	var problems []string
	var b *arkv1.Backup
	if err != nil {
		problems = []string{err.Error()}
	} else {
		b, problems = r.validate(ctx, &rs, env)
	}
	if len(problems) > 0 {
		log.Info("restore failed validation", "errors", problems)
		metrics.RestoreFinished(string(arkv1.RestorePhaseFailedValidation), 0)
		return ctrl.Result{}, r.patchStatus(ctx, &rs, func(s *arkv1.RestoreStatus) {
			s.Phase = arkv1.RestorePhaseFailedValidation
			s.ValidationErrors = problems
		})
	}
	r.run(ctx, log, &rs, b, env)
	return ctrl.Result{}, nil
}

func (r *RestoreReconciler) validate(ctx context.Context, rs *arkv1.Restore, env *Environment) (*arkv1.Backup, []string) {
	spec := rs.Spec
	if spec.BackupName == "" {
		return nil, []string{"backupName is empty: name the backup to restore (ark restore create --from-backup NAME)"}
	}
	if err := r.Discovery.Refresh(); err != nil {
		return nil, []string{err.Error()}
	}
	problems := filter.ValidateLists("namespace", spec.IncludedNamespaces, spec.ExcludedNamespaces)
	problems = append(problems, filter.ValidateLists("resource", spec.IncludedResources, spec.ExcludedResources)...)
	if spec.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
			problems = append(problems, fmt.Sprintf("invalid label selector: %v", err))
		}
	}
	for src, dst := range spec.NamespaceMapping {
		for _, ns := range []string{src, dst} {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("namespace mapping %s:%s: %q is not a valid namespace name (%s)", src, dst, ns, errs[0]))
			}
		}
	}
	b, err := r.findBackup(ctx, rs.Namespace, spec.BackupName, env)
	if err != nil {
		return nil, append(problems, err.Error())
	}
	// Resource names are checked against the cluster and the backup: the
	// custom resources of a CRD that only the backup has are restorable.
	var backedUp []string
	if b.Status.ResourceCounts != nil {
		backedUp = slices.Sorted(maps.Keys(b.Status.ResourceCounts))
	}
	problems = append(problems, restore.ResourceNameProblems(r.Discovery, b.Name, spec.IncludedResources, backedUp)...)
	problems = append(problems, restore.ResourceNameProblems(r.Discovery, b.Name, spec.ExcludedResources, backedUp)...)
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
	return b, problems
}

// findBackup reads the Backup object, or, when the cluster does not have it
// (a new cluster pointed at an old bucket), its ark-backup.json, which it then
// creates in the cluster.
func (r *RestoreReconciler) findBackup(ctx context.Context, namespace, name string, env *Environment) (*arkv1.Backup, error) {
	var b arkv1.Backup
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &b)
	if err == nil {
		return &b, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	stored, err := env.Store.GetMetadata(ctx, name)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, fmt.Errorf("backup %q not found in namespace %s nor in bucket %s: check the name with 'ark backup get'", name, namespace, env.Store.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("reading backup %q from object storage: %w", name, err)
	}
	if err := createFromStore(ctx, r.Client, namespace, stored); err != nil {
		r.Log.Warn("could not create the Backup object read from object storage", "backup", name, "error", err)
	}
	return stored, nil
}

// createFromStore creates a Backup object, status included, from its
// ark-backup.json. Backup sync does the same.
func createFromStore(ctx context.Context, c client.Client, namespace string, stored *arkv1.Backup) error {
	b := stored.DeepCopy()
	b.Namespace = namespace
	b.ResourceVersion, b.UID, b.ManagedFields, b.Finalizers = "", "", nil, nil
	b.CreationTimestamp = metav1.Time{}
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	b.Annotations[arkv1.FromStorageAnnotation] = "true"
	status := b.Status
	if err := c.Create(ctx, b); err != nil {
		return client.IgnoreAlreadyExists(err)
	}
	orig := b.DeepCopy()
	b.Status = status
	if err := c.Status().Patch(ctx, b, client.MergeFrom(orig)); err != nil {
		// Without its status the object would stay New for good; removed,
		// the next sync creates it again.
		_ = c.Delete(ctx, b)
		return err
	}
	return nil
}

func (r *RestoreReconciler) run(ctx context.Context, log *slog.Logger, rs *arkv1.Restore, b *arkv1.Backup, env *Environment) {
	now := metav1.Now()
	if err := r.patchStatus(ctx, rs, func(s *arkv1.RestoreStatus) {
		s.Phase = arkv1.RestorePhaseInProgress
		s.StartTimestamp = &now
		s.Progress = &arkv1.RestoreProgress{}
	}); err != nil {
		log.Error("could not mark the restore InProgress", "error", err)
		return
	}
	log.Info("restore started", "backup", b.Name)
	logFile, err := newGzipLog(r.Log.Handler())
	if err != nil {
		r.fail(ctx, log, rs, fmt.Sprintf("creating the restore log: %v", err))
		return
	}
	defer logFile.Remove()
	rlog := logFile.Logger.With("restore", rs.Name)

	result, err := r.restore(ctx, rlog, rs, b, env)
	if err != nil {
		rlog.Error("restore failed", "error", err)
		r.uploadRestoreFiles(ctx, log, env, rs, logFile, nil)
		r.fail(ctx, log, rs, err.Error())
		return
	}
	completed := metav1.Now()
	warnings, errs := countResult(result.Warnings), countResult(result.Errors)
	rlog.Info("restore finished", "items", result.ItemsRestored, "warnings", warnings, "errors", errs)
	r.uploadRestoreFiles(ctx, log, env, rs, logFile, result)
	phase := arkv1.RestorePhaseCompleted
	if errs > 0 {
		phase = arkv1.RestorePhasePartiallyFailed
	}
	if err := r.patchStatus(ctx, rs, func(s *arkv1.RestoreStatus) {
		s.Phase = phase
		s.Warnings, s.Errors = warnings, errs
		s.CompletionTimestamp = &completed
		s.Progress = &arkv1.RestoreProgress{TotalItems: result.TotalItems, ItemsRestored: result.ItemsRestored}
	}); err != nil {
		log.Error("could not record the restore's result", "error", err)
	}
	metrics.RestoreFinished(string(phase), completed.Sub(now.Time))
	log.Info("restore done", "phase", phase, "items", result.ItemsRestored, "seconds", completed.Sub(now.Time).Seconds())
}

// restore downloads the archive into a private temporary directory, checks
// it against the digest the backup recorded and against its own index, and
// only then creates anything.
func (r *RestoreReconciler) restore(ctx context.Context, rlog *slog.Logger, rs *arkv1.Restore, b *arkv1.Backup, env *Environment) (*restore.Result, error) {
	body, err := env.Store.GetArchive(ctx, b.Name)
	if err != nil {
		return nil, fmt.Errorf("opening the archive of backup %q: %w", b.Name, err)
	}
	defer body.Close()
	dir, err := os.MkdirTemp("", "ark-restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	verifying := archive.NewVerifyingReader(body)
	contents, err := archive.Extract(verifying, dir+"/archive", r.ArchiveLimits)
	if err != nil {
		return nil, fmt.Errorf("the archive of backup %q is not usable, nothing was restored: %w", b.Name, err)
	}
	// Read to the end so the digest covers the whole object.
	if _, err := io.Copy(io.Discard, verifying); err != nil {
		return nil, fmt.Errorf("reading the archive of backup %q: %w", b.Name, err)
	}
	if a := b.Status.Archive; a != nil {
		if err := verifying.Verify(a.SHA256, a.Size); err != nil {
			return nil, fmt.Errorf("the archive of backup %q is not the one the backup wrote, nothing was restored: %w", b.Name, err)
		}
	} else {
		rlog.Warn("the backup records no archive digest (made by an older Ark); only the archive's own index was checked")
	}
	rlog.Info("archive verified", "items", contents.Items, "sha256", verifying.SHA256())

	var priorities []string
	if p := env.Config.ResourcePriorities; len(p) > 0 {
		priorities = p
	}
	var volumes restore.VolumeRestorer
	if env.Volumes != nil && (rs.Spec.RestorePVs == nil || *rs.Spec.RestorePVs) {
		volumes = &volumeRestorer{store: env.Volumes, timeout: r.VolumeTimeout, log: rlog, pvs: r.Dynamic.Resource(persistentVolumesGVR)}
	}
	reporter := newProgressReporter(func(p arkv1.BackupProgress) {
		_ = r.patchStatus(ctx, rs, func(s *arkv1.RestoreStatus) {
			s.Progress = &arkv1.RestoreProgress{TotalItems: p.TotalItems, ItemsRestored: p.ItemsBackedUp, CurrentResource: p.CurrentResource}
		})
	})
	defer reporter.stop()
	result, err := restore.Run(ctx, restore.Options{
		Restore:    rs,
		Backup:     b,
		Contents:   contents,
		Discovery:  r.Discovery,
		Dynamic:    r.Dynamic,
		Priorities: priorities,
		Workers:    r.Workers,
		Volumes:    volumes,
		Log:        rlog,
		Progress: func(p arkv1.RestoreProgress) {
			reporter.update(arkv1.BackupProgress{TotalItems: p.TotalItems, ItemsBackedUp: p.ItemsRestored, CurrentResource: p.CurrentResource})
		},
	})
	if err != nil {
		return nil, err
	}
	return &result, nil
}

// uploadRestoreFiles stores the log and the results beside the backup. A
// failure is logged: the restore itself already happened.
func (r *RestoreReconciler) uploadRestoreFiles(ctx context.Context, log *slog.Logger, env *Environment, rs *arkv1.Restore, lf *gzipLog, result *restore.Result) {
	if err := lf.Close(); err == nil {
		if f, err := os.Open(lf.Path); err == nil {
			if err := env.Store.PutFile(ctx, backupstore.RestoreLogKey(rs.Spec.BackupName, rs.Name), f); err != nil {
				log.Error("uploading the restore log", "error", err)
			}
			f.Close()
		}
	}
	if result == nil {
		return
	}
	data, err := json.Marshal(map[string]arkv1.RestoreResult{"warnings": result.Warnings, "errors": result.Errors})
	if err != nil {
		return
	}
	if err := env.Store.PutFile(ctx, backupstore.RestoreResultsKey(rs.Spec.BackupName, rs.Name), bytesReader(backupstore.Gzip(data))); err != nil {
		log.Error("uploading the restore results", "error", err)
	}
}

func (r *RestoreReconciler) fail(ctx context.Context, log *slog.Logger, rs *arkv1.Restore, reason string) {
	log.Error("restore failed", "reason", reason)
	now := metav1.Now()
	if err := r.patchStatus(ctx, rs, func(s *arkv1.RestoreStatus) {
		s.Phase = arkv1.RestorePhaseFailed
		s.FailureReason = reason
		s.CompletionTimestamp = &now
	}); err != nil {
		log.Error("could not mark the restore Failed", "error", err)
	}
	metrics.RestoreFinished(string(arkv1.RestorePhaseFailed), ranFor(rs.Status.StartTimestamp))
}

func (r *RestoreReconciler) patchStatus(ctx context.Context, rs *arkv1.Restore, mutate func(*arkv1.RestoreStatus)) error {
	orig := rs.DeepCopy()
	mutate(&rs.Status)
	return r.Client.Status().Patch(ctx, rs, client.MergeFrom(orig))
}

// SetupWithManager registers the reconciler.
func (r *RestoreReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("restore").For(&arkv1.Restore{}).Complete(r)
}

func countResult(r arkv1.RestoreResult) int {
	n := len(r.Ark) + len(r.Cluster)
	for _, msgs := range r.Namespaces {
		n += len(msgs)
	}
	return n
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
