// Package objectstore defines how Ark talks to object storage. Each provider
// (aws, gcp, azure, filesystem) lives in its own sub-package and implements
// ObjectStore with its cloud's official SDK; the engines and controllers only
// ever see this interface.
package objectstore

import (
	"context"
	"errors"
	"time"

	"github.com/heptio/ark/pkg/plugin"
)

// ObjectStore is the small surface Ark needs from a bucket. It is the public
// plugin SDK's interface, so a store served by a plugin and a built-in one
// are held to the same contract (see plugin.ObjectStore for it).
type ObjectStore = plugin.ObjectStore

// Sentinel errors providers wrap, so callers can react without knowing the SDK.
// The wrapped message must still say what happened and how to fix it. They
// are the SDK's, so they survive the plugin protocol.
var (
	ErrNotFound       = plugin.ErrNotFound
	ErrBucketNotFound = plugin.ErrBucketNotFound
	// ErrAccessDenied covers missing, wrong and insufficient credentials.
	ErrAccessDenied = plugin.ErrAccessDenied
	// ErrUnreachable means no answer came from the storage endpoint at all
	// (connection refused, DNS failure, timeout): retrying later may help,
	// changing credentials will not.
	ErrUnreachable = plugin.ErrUnreachable
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
