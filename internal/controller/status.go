package controller

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// patchStatus applies mutate to obj and writes the change to its status
// subresource with a merge patch, leaving obj as written.
func patchStatus[T client.Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	orig := obj.DeepCopyObject().(client.Object)
	mutate(obj)
	return c.Status().Patch(ctx, obj, client.MergeFrom(orig))
}

// claimStatus is patchStatus with optimistic locking: the patch carries the
// resourceVersion obj was read at, so of two servers that both saw a new
// backup (two replicas, a stale cache) only one moves it on; the other gets
// a Conflict and leaves it.
func claimStatus[T client.Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	orig := obj.DeepCopyObject().(client.Object)
	mutate(obj)
	return c.Status().Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

// finalWriteBackoff paces the retries of the writes that must not be lost:
// about a minute in all, long enough for an API server to restart.
var finalWriteBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 11, Cap: 15 * time.Second}

// patchStatusRetrying is patchStatus for the writes that must not be lost
// (a final phase): transient API errors are retried with backoff for about a
// minute (finalWriteBackoff). A missing object is not retried.
func patchStatusRetrying[T client.Object](ctx context.Context, c client.Client, obj T, mutate func(T)) error {
	orig := obj.DeepCopyObject().(client.Object)
	mutate(obj)
	// The patch is the difference from orig, so each attempt sends the same.
	patch := client.MergeFrom(orig)
	return retry.OnError(finalWriteBackoff, func(err error) bool {
		return retriable(err) && ctx.Err() == nil
	}, func() error {
		return c.Status().Patch(ctx, obj, patch)
	})
}

// retriable reports API errors that may go away by trying again: not a
// missing object, nor a request the API server refused as malformed.
func retriable(err error) bool {
	return !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err)
}
