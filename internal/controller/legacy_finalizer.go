package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	arkv1 "github.com/heptio/ark/api/v1"
)

// removeLegacyFinalizer drops Heptio Ark v0.7's gc.ark.heptio.com finalizer,
// which this Ark never needs: deleting a Backup object must never hang. The
// backup reconciler, backup sync and deletion requests all call it, so a
// backup carrying it is released whichever sees it first.
func removeLegacyFinalizer(ctx context.Context, c client.Client, b *arkv1.Backup) error {
	if !controllerutil.ContainsFinalizer(b, arkv1.LegacyGCFinalizer) {
		return nil
	}
	orig := b.DeepCopy()
	controllerutil.RemoveFinalizer(b, arkv1.LegacyGCFinalizer)
	err := c.Patch(ctx, b, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
