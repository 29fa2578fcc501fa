// Package objectstore defines how Ark talks to object storage. Each provider
// (aws, gcp, azure, filesystem) lives in its own sub-package and implements
// ObjectStore with its cloud's official SDK; the engines and controllers only
// ever see this interface.
package objectstore

import "github.com/heptio/ark/pkg/plugin"

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
