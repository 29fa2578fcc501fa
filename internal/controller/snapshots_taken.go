package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backup"
	"github.com/heptio/ark/internal/snapshot"
)

// takenSnapshots wraps the engine's VolumeSnapshotter and records every
// snapshot as soon as it is taken: in memory, so a run that is cancelled
// or fails deletes them, and in the backup's status, so that one a crash
// interrupted still lists them (recovery deletes them when a cancel was
// asked, `ark backup delete` otherwise).
type takenSnapshots struct {
	inner backup.VolumeSnapshotter
	// record writes the snapshots taken so far into the status.
	record func(map[string]*arkv1.VolumeBackupInfo)

	mu    sync.Mutex
	taken map[string]*arkv1.VolumeBackupInfo
}

func (t *takenSnapshots) SnapshotVolume(ctx context.Context, pv *unstructured.Unstructured, tags map[string]string) (*arkv1.VolumeBackupInfo, error) {
	info, err := t.inner.SnapshotVolume(ctx, pv, tags)
	if err != nil || info == nil {
		return info, err
	}
	t.mu.Lock()
	if t.taken == nil {
		t.taken = map[string]*arkv1.VolumeBackupInfo{}
	}
	t.taken[pv.GetName()] = info.DeepCopy()
	all := t.snapshotLocked()
	t.mu.Unlock()
	if t.record != nil {
		t.record(all)
	}
	return info, nil
}

// Taken returns a copy of the snapshots taken so far, by PV.
func (t *takenSnapshots) Taken() map[string]*arkv1.VolumeBackupInfo {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked()
}

func (t *takenSnapshots) snapshotLocked() map[string]*arkv1.VolumeBackupInfo {
	out := make(map[string]*arkv1.VolumeBackupInfo, len(t.taken))
	for pv, info := range t.taken {
		out[pv] = info.DeepCopy()
	}
	return out
}

// deleteSnapshots deletes the snapshots of a backup that is not kept. It
// returns those it could not delete, with the errors.
func deleteSnapshots(ctx context.Context, volumes snapshot.BlockStore, taken map[string]*arkv1.VolumeBackupInfo) (left map[string]*arkv1.VolumeBackupInfo, err error) {
	if len(taken) == 0 {
		return nil, nil
	}
	if volumes == nil {
		return taken, fmt.Errorf("no persistentVolumeProvider is configured to delete them with")
	}
	var errs []error
	for _, pv := range slices.Sorted(maps.Keys(taken)) {
		id := taken[pv].SnapshotID
		if derr := volumes.DeleteSnapshot(ctx, id); derr != nil {
			if left == nil {
				left = map[string]*arkv1.VolumeBackupInfo{}
			}
			left[pv] = taken[pv]
			errs = append(errs, fmt.Errorf("snapshot %s of volume %s: %w", id, pv, derr))
		}
	}
	return left, errors.Join(errs...)
}
