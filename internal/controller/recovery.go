package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/settings"
)

// Interrupted marks the backups and restores that a previous server left
// InProgress as Failed, with the reason, so none stays stuck. It runs once,
// when this server becomes the leader and before it starts new work. Those
// whose cancel was requested end Cancelled instead, as they would have: a
// backup's files and the snapshots its status lists are deleted, a
// restore keeps what it created.
//
// The backup and restore reconcilers wait for Done, so they never start a
// backup that this would then mistake for an interrupted one.
type Interrupted struct {
	Client    client.Client
	Namespace string
	Log       *slog.Logger
	// Factory builds the stores of the Config, to clean up after a
	// cancelled backup (the Config may not be loaded yet at this point).
	Factory settings.Factory

	once sync.Once
	done chan struct{}
}

// Done is closed once recovery has finished.
func (i *Interrupted) Done() <-chan struct{} {
	i.once.Do(func() { i.done = make(chan struct{}) })
	return i.done
}

// recovered reports whether recovery has finished; a nil Interrupted means
// there is nothing to wait for.
func (i *Interrupted) recovered() bool {
	if i == nil {
		return true
	}
	select {
	case <-i.Done():
		return true
	default:
		return false
	}
}

// Start implements manager.Runnable.
func (i *Interrupted) Start(ctx context.Context) error {
	if err := i.recover(ctx); err != nil {
		return err
	}
	i.Done()
	close(i.done)
	return nil
}

func (i *Interrupted) recover(ctx context.Context) error {
	reason := fmt.Sprintf("the Ark server stopped while this was in progress (a new server started at %s); nothing of it is kept: run it again",
		time.Now().UTC().Format(time.RFC3339))
	var backups arkv1.BackupList
	if err := i.Client.List(ctx, &backups, client.InNamespace(i.Namespace)); err != nil {
		return fmt.Errorf("listing backups to recover: %w", err)
	}
	for _, b := range backups.Items {
		if b.Status.Phase != arkv1.BackupPhaseInProgress {
			continue
		}
		if b.Spec.Cancel {
			if err := i.cancelBackup(ctx, &b); err != nil {
				return err
			}
			continue
		}
		now := metav1.Now()
		if err := patchStatusRetrying(ctx, i.Client, &b, func(b *arkv1.Backup) {
			b.Status.Phase, b.Status.FailureReason, b.Status.CompletionTimestamp = arkv1.BackupPhaseFailed, reason, &now
		}); err != nil {
			return err
		}
		i.Log.Warn("backup interrupted by a server restart marked Failed", "backup", b.Name)
	}
	var restores arkv1.RestoreList
	if err := i.Client.List(ctx, &restores, client.InNamespace(i.Namespace)); err != nil {
		return fmt.Errorf("listing restores to recover: %w", err)
	}
	for _, r := range restores.Items {
		if r.Status.Phase != arkv1.RestorePhaseInProgress {
			continue
		}
		if r.Spec.Cancel {
			if err := i.cancelRestore(ctx, &r); err != nil {
				return err
			}
			continue
		}
		now := metav1.Now()
		if err := patchStatusRetrying(ctx, i.Client, &r, func(r *arkv1.Restore) {
			r.Status.Phase, r.Status.FailureReason, r.Status.CompletionTimestamp = arkv1.RestorePhaseFailed, reason, &now
		}); err != nil {
			return err
		}
		i.Log.Warn("restore interrupted by a server restart marked Failed", "restore", r.Name)
	}
	return nil
}

// cancelBackup finishes the cancel of a backup a previous server was
// running: its files (it has no metadata, so none of an older backup of the
// name is touched) and the snapshots its status lists are deleted.
func (i *Interrupted) cancelBackup(ctx context.Context, b *arkv1.Backup) error {
	var discardErr, snapErr error
	left := b.Status.VolumeBackups
	env, err := i.environment(ctx)
	if err != nil {
		discardErr = err
		if len(left) > 0 {
			snapErr = err
		}
	} else {
		cleanup, cancel := cleanupContext(ctx)
		discardErr = env.Store.DiscardUnfinished(cleanup, b.Name)
		left, snapErr = deleteSnapshots(cleanup, env.Volumes, b.Status.VolumeBackups)
		cancel()
	}
	reason := "the Ark server stopped while it ran; " + cancelReason(b.Name, itemsSoFar(b), len(b.Status.VolumeBackups), discardErr, left, snapErr)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, i.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase, b.Status.FailureReason, b.Status.CompletionTimestamp = arkv1.BackupPhaseCancelled, reason, &now
		b.Status.VolumeBackups = left
	}); err != nil {
		return err
	}
	metrics.BackupFinished(string(arkv1.BackupPhaseCancelled), ranFor(b.Status.StartTimestamp), 0, 0)
	i.Log.Warn("backup cancelled while the server was down: cleaned up and marked Cancelled", "backup", b.Name, "reason", reason)
	return nil
}

// cancelRestore marks a restore a previous server was running Cancelled,
// with the counts it last recorded.
func (i *Interrupted) cancelRestore(ctx context.Context, r *arkv1.Restore) error {
	var total, restored int
	if p := r.Status.Progress; p != nil {
		total, restored = p.TotalItems, p.ItemsRestored
	}
	notRestored := max(total-restored, 0)
	reason := fmt.Sprintf("cancelled by request; the Ark server stopped while it ran: %d of %d items restored (kept), %d not restored (as last recorded)", restored, total, notRestored)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, i.Client, r, func(r *arkv1.Restore) {
		r.Status.Phase, r.Status.FailureReason, r.Status.CompletionTimestamp = arkv1.RestorePhaseCancelled, reason, &now
		r.Status.Progress = &arkv1.RestoreProgress{TotalItems: total, ItemsRestored: restored, ItemsNotRestored: notRestored}
	}); err != nil {
		return err
	}
	metrics.RestoreFinished(string(arkv1.RestorePhaseCancelled), ranFor(r.Status.StartTimestamp))
	i.Log.Warn("restore cancelled while the server was down: marked Cancelled", "restore", r.Name)
	return nil
}

// environment builds the stores of the Config in the cluster now.
func (i *Interrupted) environment(ctx context.Context) (*settings.Environment, error) {
	var cfg arkv1.Config
	if err := i.Client.Get(ctx, client.ObjectKey{Namespace: i.Namespace, Name: arkv1.DefaultConfigName}, &cfg); err != nil {
		return nil, fmt.Errorf("reading Config %s/%s to reach the bucket: %w", i.Namespace, arkv1.DefaultConfigName, err)
	}
	s := &settings.Settings{Factory: i.Factory}
	s.Set(&cfg)
	return s.Environment()
}
