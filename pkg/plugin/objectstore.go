package plugin

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
// caller closes. An ObjectStore is used from several goroutines at once.
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
	// CreateSignedURL returns a URL that a plain HTTP client (or, for a store
	// on the server's disk, the ark CLI on the same machine) can GET for ttl.
	CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
}

// ObjectStoreFactory builds an object store from the config map of the
// Config's backupStorageProvider (and validates it: an unknown or missing
// key is an error that says which keys are valid).
type ObjectStoreFactory func(config map[string]string) (ObjectStore, error)

// Sentinel errors object stores wrap, so callers can react without knowing
// the SDK behind them. The wrapped message must still say what happened and
// how to fix it. They cross the plugin protocol: a plugin's error that wraps
// one is one on the server's side too.
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
