package controller

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
)

// createFromStore creates a Backup object, status included, from its stored
// metadata. Backup sync does it for every backup the cluster lacks; a restore
// does it for the backup it restores.
// liveScheduleOwner keeps a stored Backup's owner reference to its schedule
// only when that very schedule (same UID) is in the namespace. Owner UIDs
// belong to the cluster that wrote the backup: in another cluster (a
// disaster recovery, a migration) the garbage collector would delete every
// Backup whose owner it cannot find, and the schedule's deletion would then
// be taken for a request to delete the data (owned_backups.go).
func liveScheduleOwner(ctx context.Context, c client.Client, namespace string, b *arkv1.Backup) []metav1.OwnerReference {
	ref, owned := owningSchedule(b)
	if !owned {
		return nil
	}
	var s arkv1.Schedule
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, &s); err != nil || s.UID != ref.UID || !s.DeletionTimestamp.IsZero() {
		return nil
	}
	return []metav1.OwnerReference{ref}
}

func createFromStore(ctx context.Context, c client.Client, namespace string, stored *arkv1.Backup) error {
	b := stored.DeepCopy()
	b.Namespace = namespace
	b.ResourceVersion, b.UID, b.ManagedFields, b.Finalizers = "", "", nil, nil
	b.CreationTimestamp = metav1.Time{}
	b.OwnerReferences = liveScheduleOwner(ctx, c, namespace, b)
	if b.Annotations == nil {
		b.Annotations = map[string]string{}
	}
	b.Annotations[arkv1.FromStorageAnnotation] = "true"
	status := b.Status
	if err := c.Create(ctx, b); err != nil {
		return client.IgnoreAlreadyExists(err)
	}
	if err := patchStatusRetrying(ctx, c, b, func(b *arkv1.Backup) { b.Status = status }); err != nil {
		// Without its status the object would stay New for good; removed,
		// the next sync creates it again.
		_ = c.Delete(ctx, b)
		return err
	}
	return nil
}
