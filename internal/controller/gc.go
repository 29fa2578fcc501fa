package controller

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/settings"
)

// GarbageCollector asks for the deletion of expired backups, every
// gcSyncPeriod. It deletes nothing itself: it creates a DeleteBackupRequest,
// exactly as `ark backup delete` does, so expiry and a user's delete go
// through the same path (snapshots, files, restores, then the Backup) and
// leave the same record. It is off in restore-only mode and in a location
// that holds another tool's backups (read-only for Ark), and never expires a
// backup another tool wrote.
type GarbageCollector struct {
	Client    client.Client
	Namespace string
	Settings  *settings.Settings
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	restoreOnlyLogged atomic.Bool
	readOnlyLogged    atomic.Bool
}

// SetupWithManager adds the collector as a runnable of the manager.
func (g *GarbageCollector) SetupWithManager(mgr ctrl.Manager) error { return mgr.Add(g) }

// NeedLeaderElection: only the leader deletes.
func (g *GarbageCollector) NeedLeaderElection() bool { return true }

// Start runs until ctx ends.
func (g *GarbageCollector) Start(ctx context.Context) error {
	p := &periodic{name: "gc", settings: g.Settings, log: g.Log,
		period: settings.GCSyncPeriod,
		task:   func(ctx context.Context, env *settings.Environment) { g.Collect(ctx, env) }}
	return p.run(ctx)
}

// Collect requests the deletion of every expired backup that has no deletion
// request under way, and returns the names it requested.
func (g *GarbageCollector) Collect(ctx context.Context, env *settings.Environment) []string {
	if env.Config.RestoreOnlyMode {
		if !g.restoreOnlyLogged.Swap(true) {
			g.Log.Info("restore-only mode (Config restoreOnlyMode: true): expired backups are kept until it is turned off")
		}
		return nil
	}
	g.restoreOnlyLogged.Store(false)
	if reason, err := env.Store.ReadOnlyReason(ctx); err != nil {
		g.Log.Error("garbage collection could not tell whether the location is Ark's to write; trying again next period", "error", err)
		return nil
	} else if reason != "" {
		if !g.readOnlyLogged.Swap(true) {
			g.Log.Info("expired backups are kept: "+reason, "fix", backupstore.AllowWritesHint)
		}
		return nil
	}
	g.readOnlyLogged.Store(false)
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	var backups arkv1.BackupList
	if err := g.Client.List(ctx, &backups, client.InNamespace(g.Namespace)); err != nil {
		g.Log.Error("garbage collection could not list backups; trying again next period", "error", err)
		return nil
	}
	var requests arkv1.DeleteBackupRequestList
	if err := g.Client.List(ctx, &requests, client.InNamespace(g.Namespace)); err != nil {
		g.Log.Error("garbage collection could not list deletion requests; trying again next period", "error", err)
		return nil
	}
	pending := map[string]bool{}
	for _, r := range requests.Items {
		if r.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed {
			pending[r.Spec.BackupName] = true
		}
	}
	var requested []string
	for _, b := range backups.Items {
		if !expired(&b, now) || pending[b.Name] || !b.DeletionTimestamp.IsZero() {
			continue
		}
		if o := b.Status.Origin; o != nil && o.Layout != arkv1.BackupLayoutArk {
			// Another tool's backup expires by that tool's rules: Ark
			// deletes it only when a user asks, even where it may write.
			continue
		}
		req := arkv1.NewDeleteBackupRequest(b.Namespace, b.Name)
		if err := g.Client.Create(ctx, req); err != nil {
			g.Log.Error("could not request the deletion of an expired backup; trying again next period", "backup", b.Name, "error", err)
			continue
		}
		g.Log.Info("backup expired: requested its deletion", "backup", b.Name,
			"expiration", b.Status.Expiration.UTC().Format(time.RFC3339), "deleteBackupRequest", req.Name)
		requested = append(requested, b.Name)
	}
	return requested
}

// expired reports whether a finished backup is past its expiration. A
// backup that has not finished is left alone: the deletion would be refused.
func expired(b *arkv1.Backup, now time.Time) bool {
	switch b.Status.Phase {
	case "", arkv1.BackupPhaseNew, arkv1.BackupPhaseInProgress:
		return false
	}
	return b.Status.Expiration != nil && !b.Status.Expiration.Time.After(now)
}
