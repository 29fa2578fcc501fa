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
	if err := patchStatusRetrying(ctx, c, b, func(b *arkv1.Backup) { b.Status = status }); err != nil {
		// Without its status the object would stay New for good; removed,
		// the next sync creates it again.
		_ = c.Delete(ctx, b)
		return err
	}
	return nil
}
