// Package objectstore defines how Ark talks to object storage. Each provider
// (aws, gcp, azure, filesystem) lives in its own sub-package and implements
// ObjectStore with its cloud's official SDK; the engines and controllers only
// ever see this interface.
package objectstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// ObjectStore is the small surface Ark needs from a bucket.
//
// Keys are slash-separated ("<backup>/ark-backup.json"). Implementations must
// stream: PutObject reads body until EOF without buffering it whole (bodies are
// multi-GiB tar.gz pipes that cannot seek), and GetObject returns a reader the
// caller closes.
type ObjectStore interface {
	// PutObject writes body to key, replacing any existing object.
	PutObject(ctx context.Context, bucket, key string, body io.Reader) error
	// GetObject opens key for reading. A missing key returns an error that
	// errors.Is(err, ErrNotFound).
	GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// ListCommonPrefixes returns the distinct prefixes of keys under prefix up
	// to and including the next delimiter ("b1/", "b2/" for prefix "" and "/").
	ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error)
	// ListObjects returns every key that starts with prefix, paginating as needed.
	ListObjects(ctx context.Context, bucket, prefix string) ([]string, error)
	// DeleteObject removes key. Deleting a missing key is not an error.
	DeleteObject(ctx context.Context, bucket, key string) error
	// CreateSignedURL returns a URL that a plain HTTP client (or, for the
	// filesystem store, the ark CLI on the same machine) can GET for ttl.
	CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
}

// Sentinel errors providers wrap, so callers can react without knowing the SDK.
// The wrapped message must still say what happened and how to fix it.
var (
	ErrNotFound       = errors.New("object not found")
	ErrBucketNotFound = errors.New("bucket not found")
	// ErrAccessDenied covers missing, wrong and insufficient credentials.
	ErrAccessDenied = errors.New("access denied")
	// ErrUnreachable means no answer came from the storage endpoint at all
	// (connection refused, DNS failure, timeout): retrying later may help,
	// changing credentials will not.
	ErrUnreachable = errors.New("object storage endpoint unreachable")
)
