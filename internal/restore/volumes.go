package restore

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
)

// restoreVolume creates a PV's volume from its snapshot when the backup has
// one and the restore wants it, and returns the PV to create. When no volume
// can be made the PV is created as backed up, pointing at the original
// volume, as Ark always did.
func (r *restorer) restoreVolume(ctx context.Context, pv *unstructured.Unstructured, what string) (*unstructured.Unstructured, error) {
	snap := r.snapshotOf(pv.GetName())
	if snap == nil {
		return pv, nil
	}
	restorePVs := r.spec.RestorePVs
	if restorePVs != nil && !*restorePVs {
		return pv, nil
	}
	if r.opts.Volumes == nil {
		if restorePVs != nil {
			r.results.warning("", "%s has snapshot %s, but no volume snapshot provider is configured: restored the PV object only, pointing at the original volume", what, snap.SnapshotID)
		}
		return pv, nil
	}
	restored, err := r.opts.Volumes.RestoreVolume(ctx, pv, snap)
	if err != nil {
		return nil, fmt.Errorf("could not create the volume of %s from snapshot %s, so the PV was not restored: %w", what, snap.SnapshotID, err)
	}
	if restored == nil {
		return nil, fmt.Errorf("could not create the volume of %s from snapshot %s: the volume snapshot provider returned no PV", what, snap.SnapshotID)
	}
	r.log.Info("created volume from snapshot", "persistentVolume", pv.GetName(), "snapshot", snap.SnapshotID)
	return restored, nil
}

func (r *restorer) snapshotOf(pvName string) *arkv1.VolumeBackupInfo {
	if r.opts.Backup == nil {
		return nil
	}
	return r.opts.Backup.Status.VolumeBackups[pvName]
}
