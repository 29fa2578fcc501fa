package plugin

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// BlockStore snapshots volumes and creates volumes from snapshots.
//
// Volume and snapshot IDs are opaque strings owned by the provider: the
// caller stores what GetVolumeID and CreateSnapshot return and hands the same
// strings back. Some providers put more than a bare name in them (a GCE CSI
// handle carries its project and zone, an Azure ID its resource group) so that
// a restore in another cluster or resource group still finds the source.
type BlockStore interface {
	// GetVolumeID returns the provider's volume ID for a PersistentVolume, or
	// "" (and no error) when this provider does not own the PV's source.
	GetVolumeID(pv *unstructured.Unstructured) (string, error)
	// SetVolumeID returns a copy of pv pointing at volumeID.
	SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error)
	// GetVolumeInfo returns the volume's type and IOPS (nil when not applicable).
	GetVolumeInfo(ctx context.Context, volumeID, zone string) (volumeType string, iops *int64, err error)
	// CreateSnapshot snapshots the volume, tagging the snapshot with tags.
	CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (snapshotID string, err error)
	// CreateVolumeFromSnapshot creates a new volume and returns its ID.
	CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (volumeID string, err error)
	// IsVolumeReady reports whether a volume created from a snapshot can be used.
	IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error)
	// DeleteSnapshot removes a snapshot. A missing snapshot is not an error.
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// BlockStoreFactory builds a block store from the config map of the Config's
// persistentVolumeProvider.
type BlockStoreFactory func(config map[string]string) (BlockStore, error)

// Sentinel errors block stores wrap; like the object store's, they cross the
// plugin protocol.
var (
	// ErrVolumeNotFound: a volume or snapshot does not exist.
	ErrVolumeNotFound = errors.New("not found")
	// ErrCredentials: the cloud credentials are missing or rejected. The
	// wrapping message says how to fix the cloud-credentials secret.
	ErrCredentials = errors.New("cloud credentials missing or invalid")
	// ErrInvalidConfig: a config key is missing, unknown or malformed.
	ErrInvalidConfig = errors.New("invalid block store configuration")
)
