package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/restore"
)

// pickScheduledBackup resolves a restore's scheduleName: the schedule's
// newest Completed backup becomes its backupName (and the label restores of
// a backup carry), written to the Restore so that what was restored stays
// on record. It returns a problem when there is none to restore.
func (r *RestoreReconciler) pickScheduledBackup(ctx context.Context, rs *arkv1.Restore) string {
	var backups arkv1.BackupList
	if err := r.Client.List(ctx, &backups, client.InNamespace(rs.Namespace), client.MatchingLabels(arkv1.ScheduleSelector(rs.Spec.ScheduleName))); err != nil {
		return fmt.Sprintf("listing the backups of schedule %q: %v", rs.Spec.ScheduleName, err)
	}
	// The label may be a shortened form another schedule's name shares.
	backups.Items = slices.DeleteFunc(backups.Items, func(b arkv1.Backup) bool { return arkv1.ScheduleName(&b) != rs.Spec.ScheduleName })
	newest := newestCompleted(backups.Items)
	if newest == nil {
		return fmt.Sprintf("schedule %q has no Completed backup to restore yet: wait for one ('ark schedule describe %s' shows its backups), or restore a backup by name with --from-backup",
			rs.Spec.ScheduleName, rs.Spec.ScheduleName)
	}
	orig := rs.DeepCopy()
	rs.Spec.BackupName = newest.Name
	arkv1.SetBackupNameLabel(rs, newest.Name)
	if err := r.Client.Patch(ctx, rs, client.MergeFrom(orig)); err != nil {
		return fmt.Sprintf("recording backup %q of schedule %q in the restore: %v", newest.Name, rs.Spec.ScheduleName, err)
	}
	r.Log.Info("restoring the newest Completed backup of the schedule", "restore", rs.Name, "schedule", rs.Spec.ScheduleName, "backup", newest.Name)
	return ""
}

// newestCompleted is the Completed backup that started last (by its start
// time, else its creation).
func newestCompleted(backups []arkv1.Backup) *arkv1.Backup {
	var newest *arkv1.Backup
	started := func(b *arkv1.Backup) int64 {
		if b.Status.StartTimestamp != nil {
			return b.Status.StartTimestamp.UnixNano()
		}
		return b.CreationTimestamp.UnixNano()
	}
	for i := range backups {
		b := &backups[i]
		if b.Status.Phase != arkv1.BackupPhaseCompleted || !b.DeletionTimestamp.IsZero() {
			continue
		}
		if newest == nil || started(b) > started(newest) || started(b) == started(newest) && b.Name > newest.Name {
			newest = b
		}
	}
	return newest
}

// readModifiers reads and parses the restore's resource modifier rules.
func (r *RestoreReconciler) readModifiers(ctx context.Context, rs *arkv1.Restore) (*restore.Modifiers, []string) {
	ref := rs.Spec.ResourceModifier
	if ref == nil || ref.Name == "" {
		return nil, nil // an empty name is reported by restore.Validate
	}
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	var cm corev1.ConfigMap
	err := reader.Get(ctx, client.ObjectKey{Namespace: rs.Namespace, Name: ref.Name}, &cm)
	if apierrors.IsNotFound(err) {
		return nil, []string{fmt.Sprintf("resource modifier ConfigMap %q not found in namespace %s: create it there ('kubectl -n %s create configmap %s --from-file=rules.yaml')", ref.Name, rs.Namespace, rs.Namespace, ref.Name)}
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("reading resource modifier ConfigMap %q: %v", ref.Name, err)}
	}
	return restore.ParseModifiers(ref.Name, cm.Data)
}
