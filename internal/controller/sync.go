package controller

import (
	"context"
	"log/slog"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/settings"
)

// BackupSyncer gives every backup in the bucket a Backup object, at start-up
// and every backupSyncPeriod, so a cluster pointed at a bucket (a new one
// after a disaster, or this one after its namespace was deleted) sees and can
// restore every backup in it. It finds backups in every layout the bucket
// holds (Ark's own, Heptio Ark v0.10's, Velero's: see backupstore), and each
// Backup it creates records where it came from in status.origin. It only creates: it never deletes or changes a
// Backup object, and runs in restore-only mode too.
//
// It never brings back a backup whose deletion was asked for: one with a
// DeleteBackupRequest made since the backup was, or whose files are half
// gone (ark-backup.json is deleted last, so a deletion that stopped halfway
// leaves it without its archive).
//
// Each pass also releases Backups still carrying Heptio Ark v0.7's
// gc.ark.heptio.com finalizer, in case no event reached the backup
// reconciler.
type BackupSyncer struct {
	Client client.Client
	// APIReader reads deletion requests uncached, so one made a moment ago
	// is seen; nil means Client.
	APIReader client.Reader
	Namespace string
	Settings  *settings.Settings
	Log       *slog.Logger
}

// SetupWithManager adds the syncer as a runnable of the manager.
func (s *BackupSyncer) SetupWithManager(mgr ctrl.Manager) error { return mgr.Add(s) }

// NeedLeaderElection: only the leader creates objects.
func (s *BackupSyncer) NeedLeaderElection() bool { return true }

// Start runs until ctx ends.
func (s *BackupSyncer) Start(ctx context.Context) error {
	p := &periodic{name: "backup-sync", settings: s.Settings, log: s.Log,
		period: settings.BackupSyncPeriod,
		task:   func(ctx context.Context, env *settings.Environment) { s.Sync(ctx, env) }}
	return p.run(ctx)
}

// Sync creates the missing Backup objects and returns their names.
func (s *BackupSyncer) Sync(ctx context.Context, env *settings.Environment) []string {
	log := s.Log.With("bucket", env.Store.Bucket())
	stored, shadowed, err := env.Store.ListBackups(ctx)
	if err != nil {
		log.Error("backup sync could not list the bucket; trying again next period", "error", err)
		return nil
	}
	for _, ref := range shadowed {
		log.Warn("backup sync skips a backup whose name another layout of the bucket already uses: a cluster holds one Backup of a name (rename one of them in the bucket to restore both)",
			"backup", ref.Name, "layout", ref.Layout)
	}
	var backups arkv1.BackupList
	if err := s.Client.List(ctx, &backups, client.InNamespace(s.Namespace)); err != nil {
		log.Error("backup sync could not list backups; trying again next period", "error", err)
		return nil
	}
	have := map[string]bool{}
	for i := range backups.Items {
		b := &backups.Items[i]
		have[b.Name] = true
		if err := removeLegacyFinalizer(ctx, s.Client, b); err != nil {
			log.Warn("could not remove the legacy finalizer", "backup", b.Name, "finalizer", arkv1.LegacyGCFinalizer, "error", err)
		}
	}
	var missing []backupstore.Ref
	for _, ref := range stored {
		if !have[ref.Name] {
			missing = append(missing, ref)
		}
	}
	if len(missing) == 0 {
		log.Debug("backup sync: every backup in the bucket has its Backup object", "backups", len(stored))
		return nil
	}
	reader := s.APIReader
	if reader == nil {
		reader = s.Client
	}
	var requests arkv1.DeleteBackupRequestList
	if err := reader.List(ctx, &requests, client.InNamespace(s.Namespace)); err != nil {
		log.Error("backup sync could not list deletion requests; trying again next period", "error", err)
		return nil
	}
	var synced []string
	for _, ref := range missing {
		if s.syncOne(ctx, log.With("backup", ref.Name, "layout", ref.Layout), env, ref, requests.Items) {
			synced = append(synced, ref.Name)
		}
	}
	if len(synced) > 0 {
		log.Info("backup sync created Backup objects from object storage", "backups", synced)
	}
	return synced
}

func (s *BackupSyncer) syncOne(ctx context.Context, log *slog.Logger, env *settings.Environment, ref backupstore.Ref, requests []arkv1.DeleteBackupRequest) bool {
	b, err := env.Store.GetMetadata(ctx, ref)
	if err != nil {
		log.Warn("backup sync could not read the backup's metadata; skipped", "error", err)
		return false
	}
	if req := deletionRequested(b, requests); req != nil {
		log.Debug("backup sync skips a backup whose deletion was requested", "deleteBackupRequest", req.Name, "phase", req.Status.Phase)
		return false
	}
	files, err := env.Store.Files(ctx, ref)
	if err != nil {
		log.Warn("backup sync could not list the backup's files; skipped", "error", err)
		return false
	}
	if !files.Complete() {
		if ref.Layout != arkv1.BackupLayoutArk {
			log.Info("backup in the bucket has no archive (the tool that wrote it failed before writing one): there is nothing to restore, so it is not synced", "writtenBy", b.Status.Origin.WrittenBy, "phase", b.Status.Phase)
			return false
		}
		log.Warn("backup in the bucket has its metadata but no archive: it is half-deleted or damaged, so it is not synced; remove what is left with 'ark backup delete " + ref.Name + "'")
		return false
	}
	if err := createFromStore(ctx, s.Client, s.Namespace, b); err != nil {
		log.Warn("backup sync could not create the Backup object; trying again next period", "error", err)
		return false
	}
	return true
}

// deletionRequested returns a DeleteBackupRequest for the backup made since
// the backup was created (older ones were about an earlier backup of the
// same name), whatever its phase: a deletion that failed is retried by a new
// request, not undone by sync.
func deletionRequested(b *arkv1.Backup, requests []arkv1.DeleteBackupRequest) *arkv1.DeleteBackupRequest {
	for i := range requests {
		r := &requests[i]
		if r.Spec.BackupName != b.Name {
			continue
		}
		if !b.CreationTimestamp.IsZero() && r.CreationTimestamp.Before(&b.CreationTimestamp) {
			continue
		}
		return r
	}
	return nil
}
