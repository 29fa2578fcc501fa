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
)

// Interrupted marks the backups and restores that a previous server left
// InProgress as Failed, with the reason, so none stays stuck. It runs once,
// when this server becomes the leader and before it starts new work.
//
// The backup and restore reconcilers wait for Done, so they never start a
// backup that this would then mistake for an interrupted one.
type Interrupted struct {
	Client    client.Client
	Namespace string
	Log       *slog.Logger

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
