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

// ErrRetained is wrapped by DeleteObject (and PutObject over an existing
// key) when the store refuses because the object is under retention:
// object lock, a retention policy, an immutability policy, or a legal hold.
// Waiting until the retention ends is the only fix, so it is never retried.
var ErrRetained = errors.New("object is under retention")

// Retention is what keeps an object from being deleted.
type Retention struct {
	// Until is when time-based retention ends; zero when there is none.
	Until time.Time
	// Mode is the provider's name for it (S3 GOVERNANCE or COMPLIANCE,
	// Azure Locked or Unlocked, GCS "bucket retention policy" ...).
	Mode string
	// Hold is set when a legal (or event-based, temporary) hold is on
	// the object: it stays until the hold is removed, whatever Until says.
	Hold bool
}

// Holds reports whether the retention forbids deleting the object at now.
func (r Retention) Holds(now time.Time) bool { return r.Hold || r.Until.After(now) }

// RetentionReader is implemented by stores whose buckets can keep objects
// under retention (S3 object lock, GCS retention policies and object
// retention, Azure immutable blob storage), so Ark can tell ahead of a
// deletion that it would be refused (or, on S3, hidden behind a delete
// marker while the locked version stays).
type RetentionReader interface {
	// ObjectRetention returns key's retention; the zero Retention when it
	// has none. A missing key returns an error wrapping ErrNotFound.
	ObjectRetention(ctx context.Context, bucket, key string) (Retention, error)
}
