package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/metrics"
	"github.com/heptio/ark/internal/settings"
)

// Interrupted settles the backups and restores that a previous server left
// InProgress, so none stays stuck and nothing complete is thrown away. It
// runs once, when this server becomes the leader and before it starts new
// work:
//
//   - a restore InProgress is marked Failed, with the reason;
//   - a backup InProgress is looked up in the bucket (backupstore.OpenRun).
//     If its run got as far as writing ark-backup.json beside the archive,
//     the backup is complete and only its status was lost (the server died,
//     or the API server was away, between the two): the status recorded in
//     the bucket is adopted. Otherwise what its run wrote is removed (only
//     that: the run's marker says which files are its own, so an older
//     backup of the same name is never touched) and it is marked Failed;
//     or Cancelled, when its cancel was requested, its volume snapshots
//     deleted too. A restore whose cancel was requested ends Cancelled,
//     keeping what it created.
//
// The backups to settle are the ones InProgress when recovery starts; the
// backup and restore reconcilers wait for Done, which comes as soon as that
// list is taken, so they never start one this would then take for
// interrupted. Settling backups needs the bucket: while it cannot be read
// (no Config yet, object storage away) recovery tries again every
// RetryEvery, and those backups stay InProgress meanwhile.
type Interrupted struct {
	Client    client.Client
	Namespace string
	Log       *slog.Logger
	// Settings give the bucket; nil settles every backup as Failed without
	// looking (tests of other reconcilers).
	Settings *settings.Settings
	// RetryEvery paces the attempts to settle backups while the bucket
	// cannot be read; 0 means 10s.
	RetryEvery time.Duration

	once sync.Once
	done chan struct{}
}

// Done is closed once recovery has taken the list of interrupted work.
func (i *Interrupted) Done() <-chan struct{} {
	i.once.Do(func() { i.done = make(chan struct{}) })
	return i.done
}

// recovered reports whether recovery has taken its list; a nil Interrupted
// means there is nothing to wait for.
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

// Start implements manager.Runnable. It returns once every interrupted
// backup is settled (or ctx ends).
func (i *Interrupted) Start(ctx context.Context) error {
	started := time.Now().UTC()
	backups, err := i.interruptedBackups(ctx)
	if err != nil {
		return err
	}
	if err := i.failRestores(ctx, started); err != nil {
		return err
	}
	i.Done()
	close(i.done)
	i.removeStaleUploads(ctx)
	return i.settleBackups(ctx, backups, started)
}

func (i *Interrupted) interruptedBackups(ctx context.Context) ([]arkv1.Backup, error) {
	var list arkv1.BackupList
	if err := i.Client.List(ctx, &list, client.InNamespace(i.Namespace)); err != nil {
		return nil, fmt.Errorf("listing backups to recover: %w", err)
	}
	var backups []arkv1.Backup
	for _, b := range list.Items {
		if b.Status.Phase == arkv1.BackupPhaseInProgress {
			backups = append(backups, b)
		}
	}
	return backups, nil
}

func (i *Interrupted) failRestores(ctx context.Context, started time.Time) error {
	reason := fmt.Sprintf("the Ark server stopped while this restore was in progress (a new server started at %s); what it had created stays in the cluster: run it again (a new restore of the same backup) to restore the rest, existing objects are left as they are",
		started.Format(time.RFC3339))
	var restores arkv1.RestoreList
	if err := i.Client.List(ctx, &restores, client.InNamespace(i.Namespace)); err != nil {
		return fmt.Errorf("listing restores to recover: %w", err)
	}
	for _, r := range restores.Items {
		if r.Status.Phase != arkv1.RestorePhaseInProgress {
			continue
		}
		if r.Spec.Cancel {
			if err := i.cancelRestore(ctx, &r); client.IgnoreNotFound(err) != nil {
				return err
			}
			continue
		}
		now := metav1.Now()
		if err := patchStatusRetrying(ctx, i.Client, &r, func(r *arkv1.Restore) {
			r.Status.Phase, r.Status.FailureReason, r.Status.CompletionTimestamp = arkv1.RestorePhaseFailed, reason, &now
		}); client.IgnoreNotFound(err) != nil {
			return err
		}
		i.Log.Warn("restore interrupted by a server restart marked Failed", "restore", r.Name)
	}
	return nil
}

// removeStaleUploads clears what uploads a crashed server left in the
// bucket, when the Config names it already.
func (i *Interrupted) removeStaleUploads(ctx context.Context) {
	if i.Settings == nil {
		return
	}
	env, err := i.Settings.Environment()
	if err != nil {
		return
	}
	removed, err := env.Store.RemoveStaleUploads(ctx)
	if len(removed) > 0 {
		i.Log.Info("removed the temporary files of uploads a stopped server left in the bucket", "bucket", env.Store.Bucket(), "files", removed)
	}
	if err != nil {
		i.Log.Warn("could not remove every temporary file a stopped server left in the bucket", "bucket", env.Store.Bucket(), "error", err)
	}
}

// settleBackups settles each interrupted backup, trying again while the
// bucket cannot be read.
func (i *Interrupted) settleBackups(ctx context.Context, backups []arkv1.Backup, started time.Time) error {
	every := i.RetryEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	for attempt := 1; len(backups) > 0; attempt++ {
		var left []arkv1.Backup
		for _, b := range backups {
			if err := i.settleBackup(ctx, &b, started); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				i.Log.Warn("could not settle a backup a stopped server left InProgress; trying again", "backup", b.Name, "attempt", attempt, "retryIn", every.String(), "error", err)
				left = append(left, b)
			}
		}
		backups = left
		if len(backups) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
	return nil
}

func (i *Interrupted) settleBackup(ctx context.Context, b *arkv1.Backup, started time.Time) error {
	var current arkv1.Backup
	if err := i.Client.Get(ctx, client.ObjectKeyFromObject(b), &current); err != nil {
		return client.IgnoreNotFound(err)
	}
	if current.UID != b.UID || current.Status.Phase != arkv1.BackupPhaseInProgress {
		return nil // deleted and made again, or settled meanwhile
	}
	b = &current
	log := i.Log.With("backup", b.Namespace+"/"+b.Name)
	stopped := fmt.Sprintf("the Ark server stopped while this backup was in progress (a new server started at %s)", started.Format(time.RFC3339))
	if i.Settings == nil {
		return i.markFailed(ctx, log, b, stopped+": run it again")
	}
	if _, err := i.Settings.Config(); errors.Is(err, settings.ErrNoConfig) {
		return err
	}
	env, err := i.Settings.Environment()
	if err != nil {
		return err
	}
	run, complete, err := env.Store.OpenRun(ctx, b.Name, string(b.UID))
	if err != nil {
		return fmt.Errorf("reading bucket %s: %w", env.Store.Bucket(), err)
	}
	if complete != nil {
		// The backup is whole: its own record says how it ended.
		status := complete.Status
		if err := patchStatusRetrying(ctx, i.Client, b, func(b *arkv1.Backup) { b.Status = status }); err != nil {
			return client.IgnoreNotFound(err)
		}
		if err := run.Finish(ctx); err != nil {
			log.Warn("could not remove the marker of the backup's run", "error", err)
		}
		log.Info("backup interrupted after it was stored: its status is taken from the bucket", "phase", status.Phase)
		return nil
	}
	if b.Spec.Cancel {
		return i.finishCancel(ctx, log, b, env, run)
	}
	reason := stopped + ": it was not complete in the bucket, and what it had written there was removed; run it again"
	if env.Config.RestoreOnlyMode {
		reason = stopped + ": it was not complete in the bucket; the server is in restore-only mode, so what it wrote there is left: delete it with 'ark backup delete " + b.Name + "' once restore-only mode is off, and run the backup again"
	} else if err := discardRetrying(ctx, run); err != nil {
		reason = fmt.Sprintf("%s: it was not complete in the bucket, and what it wrote there could not all be removed (%v): delete it with 'ark backup delete %s', and run the backup again", stopped, err, b.Name)
	}
	if n := len(b.Status.VolumeBackups); n > 0 {
		reason += fmt.Sprintf("; the %d volume snapshot(s) it took are listed in its status, and 'ark backup delete %s' deletes them", n, b.Name)
	}
	return i.markFailed(ctx, log, b, reason)
}

func (i *Interrupted) markFailed(ctx context.Context, log *slog.Logger, b *arkv1.Backup, reason string) error {
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, i.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase, b.Status.FailureReason, b.Status.CompletionTimestamp = arkv1.BackupPhaseFailed, reason, &now
	}); err != nil {
		return client.IgnoreNotFound(err)
	}
	log.Warn("backup interrupted by a server restart marked Failed", "reason", reason)
	return nil
}

// finishCancel finishes the cancel of a backup a previous server was
// running: what its run wrote and the snapshots its status lists are
// deleted, and it ends Cancelled.
func (i *Interrupted) finishCancel(ctx context.Context, log *slog.Logger, b *arkv1.Backup, env *settings.Environment, run *backupstore.BackupRun) error {
	cleanup, cancel := cleanupContext(ctx)
	defer cancel()
	discardErr := discardRetrying(cleanup, run)
	left, snapErr := deleteSnapshots(cleanup, env.Volumes, b.Status.VolumeBackups)
	reason := "the Ark server stopped while it ran; " + cancelReason(b.Name, itemsSoFar(b), len(b.Status.VolumeBackups), discardErr, left, snapErr)
	now := metav1.Now()
	if err := patchStatusRetrying(ctx, i.Client, b, func(b *arkv1.Backup) {
		b.Status.Phase, b.Status.FailureReason, b.Status.CompletionTimestamp = arkv1.BackupPhaseCancelled, reason, &now
		b.Status.VolumeBackups = left
	}); err != nil {
		return client.IgnoreNotFound(err)
	}
	metrics.BackupFinished(string(arkv1.BackupPhaseCancelled), ranFor(b.Status.StartTimestamp), 0, 0)
	log.Warn("backup cancelled while the server was down: cleaned up and marked Cancelled", "reason", reason)
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
