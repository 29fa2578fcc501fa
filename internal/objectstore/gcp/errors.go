package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/unreachable"
	"github.com/heptio/ark/internal/redact"
)

const accessFix = "check the service account key in the cloud-credentials secret (key cloud, mounted at /credentials, " +
	"GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud) and that the service account has roles/storage.admin " +
	"(or roles/storage.objectAdmin) on the bucket"

func bucketMissing(bucket, op, where string, err error) error {
	return fmt.Errorf("%w: GCS bucket %q does not exist (%s %s): create it (gsutil mb gs://%s) or fix backupStorageProvider.bucket in the Ark Config: %w",
		objectstore.ErrBucketNotFound, bucket, op, where, bucket, err)
}

// mapError turns a storage library error into one that wraps the
// objectstore sentinel and says what to change. GCS answers a read of an
// object in a missing bucket with a plain "object doesn't exist", so on that
// path the bucket is looked up to tell the two apart.
func (s *Store) mapError(ctx context.Context, op, bucket, key string, err error) error {
	// Request URLs in the library's errors may carry signatures or tokens.
	err = redact.Error(err)
	where := fmt.Sprintf("gs://%s/%s", bucket, key)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return bucketMissing(bucket, op, where, err)
	}
	if errors.Is(err, storage.ErrObjectNotExist) {
		if _, berr := s.client.Bucket(bucket).Attrs(ctx); errors.Is(berr, storage.ErrBucketNotExist) {
			return bucketMissing(bucket, op, where, err)
		}
		return fmt.Errorf("%w: %s: %w", objectstore.ErrNotFound, where, err)
	}
	var gErr *googleapi.Error
	if errors.As(err, &gErr) {
		switch gErr.Code {
		case http.StatusNotFound:
			// Uploads and deletes report a missing bucket as a bare 404.
			if _, berr := s.client.Bucket(bucket).Attrs(ctx); errors.Is(berr, storage.ErrBucketNotExist) {
				return bucketMissing(bucket, op, where, err)
			}
			return fmt.Errorf("%w: %s: %w", objectstore.ErrNotFound, where, err)
		case http.StatusForbidden:
			if retained(gErr) {
				return fmt.Errorf("%w: GCS refused to %s %s: it is under a retention policy, object retention or a hold: %w", objectstore.ErrRetained, op, where, err)
			}
			return fmt.Errorf("%w: GCS refused to %s %s (HTTP %d): %s: %w",
				objectstore.ErrAccessDenied, op, where, gErr.Code, accessFix, err)
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: GCS refused to %s %s (HTTP %d): %s: %w",
				objectstore.ErrAccessDenied, op, where, gErr.Code, accessFix, err)
		}
	}
	if endpoint, ok := unreachable.Endpoint(err); ok {
		return fmt.Errorf("%w: cannot reach the GCS endpoint %s to %s %s: check that it is up (and %s / %s when using an emulator): %w",
			objectstore.ErrUnreachable, endpoint, op, where, ConfigEmulatorHost, EnvEmulatorHost, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// retained reports a 403 that a retention policy, object retention or a
// hold caused, not missing permissions.
func retained(e *googleapi.Error) bool {
	for _, item := range e.Errors {
		if item.Reason == "retentionPolicyNotMet" {
			return true
		}
	}
	msg := strings.ToLower(e.Message)
	return strings.Contains(msg, "retention") || strings.Contains(msg, "hold")
}
