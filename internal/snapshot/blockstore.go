// Package snapshot defines how Ark snapshots persistent volumes. Each provider
// (aws, gcp, azure, local) lives in its own sub-package and implements
// BlockStore with its cloud's official SDK.
package snapshot

import "github.com/heptio/ark/pkg/plugin"

// BlockStore snapshots volumes and creates volumes from snapshots. It is the
// public plugin SDK's interface (see plugin.BlockStore), so plugins and the
// built-in providers meet the same contract.
type BlockStore = plugin.BlockStore

// ErrNotFound is wrapped by providers when a volume or snapshot does not exist.
var ErrNotFound = plugin.ErrVolumeNotFound

// ErrCredentials is wrapped by providers when the cloud credentials are
// missing or rejected. The wrapping message says how to fix the
// cloud-credentials secret.
var ErrCredentials = plugin.ErrCredentials

// ErrInvalidConfig is wrapped by provider constructors when a config key is
// missing, unknown or malformed.
var ErrInvalidConfig = plugin.ErrInvalidConfig
