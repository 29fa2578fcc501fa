package controller

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/retention"
	"github.com/heptio/ark/internal/settings"
)

// GarbageCollector asks for the deletion of expired backups, every
// gcSyncPeriod: those past their TTL and those their schedule's retention
// keeps no more, but never the newest Completed backup of a schedule (see
// internal/retention). It deletes nothing itself: it creates a DeleteBackupRequest,
// exactly as `ark backup delete` does, so expiry and a user's delete go
// through the same path (snapshots, files, restores, then the Backup) and
// leave the same record. It is off in restore-only mode.
type GarbageCollector struct {
	Client    client.Client
	Namespace string
	Settings  *settings.Settings
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	restoreOnlyLogged atomic.Bool

	// retained remembers the backups found under retention in the bucket
	// (object lock) and until when, so they are neither requested for
	// deletion nor looked up again before then.
	mu       sync.Mutex
	retained map[string]time.Time
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
	var schedules arkv1.ScheduleList
	if err := g.Client.List(ctx, &schedules, client.InNamespace(g.Namespace)); err != nil {
		g.Log.Error("garbage collection could not list schedules; trying again next period", "error", err)
		return nil
	}
	decisions := retention.Evaluate(retention.Input{Now: now, Backups: backups.Items,
		Policies: retention.Policies(schedules.Items, backups.Items, env.Config)})
	var requested []string
	for _, b := range backups.Items {
		d := decisions[b.Name]
		if d.Verdict != retention.Delete || pending[b.Name] || !b.DeletionTimestamp.IsZero() {
			continue
		}
		if g.underRetention(ctx, env, b.Name, now) {
			continue
		}
		req := arkv1.NewDeleteBackupRequest(b.Namespace, b.Name)
		if err := g.Client.Create(ctx, req); err != nil {
			g.Log.Error("could not request the deletion of an expired backup; trying again next period", "backup", b.Name, "error", err)
			continue
		}
		g.Log.Info("backup expired: requested its deletion", "backup", b.Name, "reason", d.Reason, "deleteBackupRequest", req.Name)
		requested = append(requested, b.Name)
	}
	return requested
}

// underRetention reports whether the bucket keeps the backup's files under
// retention (object lock, a retention or immutability policy, a hold): its
// deletion would be refused, so it is not requested until the retention
// ends. A failure to tell lets the request go ahead; the deletion checks
// again and says why it stops.
func (g *GarbageCollector) underRetention(ctx context.Context, env *settings.Environment, name string, now time.Time) bool {
	if env.Store == nil {
		return false
	}
	g.mu.Lock()
	until, known := g.retained[name]
	g.mu.Unlock()
	if known && now.Before(until) {
		return true
	}
	r, err := env.Store.Retention(ctx, name)
	if err != nil {
		g.Log.Warn("could not read whether an expired backup is under retention in the bucket; requesting its deletion", "backup", name, "error", err)
		return false
	}
	if !r.Holds(now) {
		g.mu.Lock()
		delete(g.retained, name)
		g.mu.Unlock()
		return false
	}
	// A hold has no end date: look again next period.
	next := r.Until
	if r.Hold {
		next = now
	}
	g.mu.Lock()
	if g.retained == nil {
		g.retained = map[string]time.Time{}
	}
	g.retained[name] = next
	g.mu.Unlock()
	if !known {
		g.Log.Info("backup is due for deletion but the bucket keeps it under retention: kept, and asked again once the retention ends",
			"backup", name, "retainedUntil", r.Until.UTC().Format(time.RFC3339), "mode", r.Mode, "hold", r.Hold)
	}
	return true
}
