package snapshot

// This file adapts a BlockStore to the two engines: the backup engine's
// VolumeSnapshotter and the restore engine's VolumeRestorer.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/api/v1"
)

// zoneLabels are where a PV's zone is found, newest first.
var zoneLabels = []string{"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"}

func volumeZone(pv *unstructured.Unstructured) string {
	for _, l := range zoneLabels {
		if z := pv.GetLabels()[l]; z != "" {
			return z
		}
	}
	return ""
}

// VolumeSnapshotter snapshots the volumes of PersistentVolumes for the
// backup engine.
type VolumeSnapshotter struct{ Store BlockStore }

// SnapshotVolume snapshots the PV's volume; it returns nil info (and no
// error) when the provider does not own the PV's source.
func (v *VolumeSnapshotter) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	id, err := v.Store.GetVolumeID(pv)
	if err != nil || id == "" {
		return nil, err
	}
	zone := volumeZone(pv)
	volumeType, iops, err := v.Store.GetVolumeInfo(ctx, id, zone)
	if err != nil {
		return nil, err
	}
	snapshotID, err := v.Store.CreateSnapshot(ctx, id, zone, tags)
	if err != nil {
		return nil, err
	}
	return &arkv1.VolumeBackupInfo{SnapshotID: snapshotID, Type: volumeType, AvailabilityZone: zone, Iops: iops}, nil
}

// VolumeRestorer restores the volumes of PersistentVolumes for the restore
// engine: it creates a volume from the snapshot, waits until it is ready, and
// points the PV at it.
type VolumeRestorer struct {
	store   BlockStore
	timeout time.Duration
	log     *slog.Logger
	// pvs reads PersistentVolumes straight from the API server (no cache).
	pvs dynamic.NamespaceableResourceInterface
}

// NewVolumeRestorer restores volumes with store, waiting up to timeout (0:
// DefaultVolumeTimeout) for each; dyn reads the cluster's PVs.
func NewVolumeRestorer(store BlockStore, timeout time.Duration, log *slog.Logger, dyn dynamic.Interface) *VolumeRestorer {
	return &VolumeRestorer{store: store, timeout: timeout, log: log, pvs: dyn.Resource(persistentVolumesGVR)}
}

var persistentVolumesGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}

// RestoreVolume creates the PV's volume from its snapshot and returns the PV
// to create, pointing at it. A PV that still exists is left alone.
func (v *VolumeRestorer) RestoreVolume(ctx context.Context, pv *unstructured.Unstructured, snap *arkv1.VolumeBackupInfo) (*unstructured.Unstructured, error) {
	// A PV that still exists is never overwritten, so a volume made for it
	// would be left behind, unused, and (in a cloud) paid for.
	if v.pvs != nil {
		_, err := v.pvs.Get(ctx, pv.GetName(), metav1.GetOptions{})
		if err == nil {
			v.log.Info("persistent volume still exists: not creating a volume from its snapshot", "persistentVolume", pv.GetName(), "snapshotID", snap.SnapshotID)
			return pv, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("checking whether PV %s exists before creating its volume: %w", pv.GetName(), err)
		}
	}
	id, err := v.store.CreateVolumeFromSnapshot(ctx, snap.SnapshotID, snap.Type, snap.AvailabilityZone, snap.Iops)
	if err != nil {
		return nil, fmt.Errorf("creating a volume from snapshot %s: %w", snap.SnapshotID, err)
	}
	timeout := v.timeout
	if timeout <= 0 {
		timeout = DefaultVolumeTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		ready, err := v.store.IsVolumeReady(ctx, id, snap.AvailabilityZone)
		if err != nil {
			return nil, fmt.Errorf("checking volume %s: %w", id, err)
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("volume %s created from snapshot %s was not ready within %s (raise the server's --volume-timeout)", id, snap.SnapshotID, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	v.log.Info("volume restored from snapshot", "persistentVolume", pv.GetName(), "snapshotID", snap.SnapshotID, "volumeID", id)
	return v.store.SetVolumeID(pv, id)
}

// DefaultVolumeTimeout bounds the wait for a restored volume.
const DefaultVolumeTimeout = 5 * time.Minute
