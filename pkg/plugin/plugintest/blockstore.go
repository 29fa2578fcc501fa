package plugintest

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/pkg/plugin"
)

// CheckBlockStore holds store to the BlockStore contract Ark relies on,
// with pv, a PersistentVolume whose source the store owns, in zone: the
// volume's ID read from the PV, its info, a snapshot, a volume created
// from it that becomes ready, a PV pointed at that volume (the given PV
// left as it was), the snapshot deleted (twice), and the
// ErrVolumeNotFound sentinel for a volume from a deleted snapshot.
func CheckBlockStore(t *testing.T, store plugin.BlockStore, pv *unstructured.Unstructured, zone string) {
	t.Helper()
	ctx := context.Background()
	volumeID, err := store.GetVolumeID(pv)
	if err != nil || volumeID == "" {
		t.Fatalf("GetVolumeID of a PV the store owns = %q, %v; want its volume's ID", volumeID, err)
	}
	volumeType, iops, err := store.GetVolumeInfo(ctx, volumeID, zone)
	if err != nil {
		t.Fatalf("GetVolumeInfo(%s): %v", volumeID, err)
	}
	snapshotID, err := store.CreateSnapshot(ctx, volumeID, zone, map[string]string{"ark.heptio.com/backup": "plugintest"})
	if err != nil || snapshotID == "" {
		t.Fatalf("CreateSnapshot(%s) = %q, %v; want a snapshot ID", volumeID, snapshotID, err)
	}
	restored, err := store.CreateVolumeFromSnapshot(ctx, snapshotID, volumeType, zone, iops)
	if err != nil || restored == "" {
		t.Fatalf("CreateVolumeFromSnapshot(%s) = %q, %v; want a volume ID", snapshotID, restored, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ready, err := store.IsVolumeReady(ctx, restored, zone)
		if err != nil {
			t.Fatalf("IsVolumeReady(%s): %v", restored, err)
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("volume %s created from snapshot %s is not ready after a minute", restored, snapshotID)
		}
		time.Sleep(time.Second)
	}
	moved, err := store.SetVolumeID(pv, restored)
	if err != nil {
		t.Fatalf("SetVolumeID(%s): %v", restored, err)
	}
	if got, err := store.GetVolumeID(moved); err != nil || got != restored {
		t.Errorf("GetVolumeID of the PV SetVolumeID returned = %q, %v; want %q", got, err, restored)
	}
	if got, err := store.GetVolumeID(pv); err != nil || got != volumeID {
		t.Errorf("SetVolumeID changed the PV it was given: its volume is now %q (%v), was %q", got, err, volumeID)
	}
	for range 2 { // deleting a missing snapshot is not an error
		if err := store.DeleteSnapshot(ctx, snapshotID); err != nil {
			t.Fatalf("DeleteSnapshot(%s): %v", snapshotID, err)
		}
	}
	if _, err := store.CreateVolumeFromSnapshot(ctx, snapshotID, volumeType, zone, iops); !errors.Is(err, plugin.ErrVolumeNotFound) {
		t.Errorf("CreateVolumeFromSnapshot of a deleted snapshot = %v; want an error wrapping plugin.ErrVolumeNotFound", err)
	}
}
