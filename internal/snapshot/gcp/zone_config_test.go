package gcp

import (
	"context"
	"strings"
	"testing"
	"time"

	gax "github.com/googleapis/gax-go/v2"
)

// The zone key of Heptio Ark's examples/gcp/00-ark-config.yaml stands in for
// the zone label of in-tree PVs that lack one, for snapshots and restores; a
// PV's own zone still wins.
func TestConfiguredZone(t *testing.T) {
	fake := newFakeGCE(t)
	fake.addDisk("my-project", "us-central1-f", "pvc-nolabel", "pd-standard", 0)
	fake.writeCredentials(t)
	b, err := New(map[string]string{ProjectKey: "my-project", ComputeURLKey: fake.computeURL(), ZoneKey: "us-central1-f"})
	if err != nil {
		t.Fatalf("New with zone: %v", err)
	}
	b.backoff = gax.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	ctx := context.Background()

	volumeType, _, err := b.GetVolumeInfo(ctx, "pvc-nolabel", "")
	if err != nil || volumeType != "pd-standard" {
		t.Fatalf("GetVolumeInfo without a PV zone = %q, %v; want pd-standard from the configured zone", volumeType, err)
	}
	snapID, err := b.CreateSnapshot(ctx, "pvc-nolabel", "", nil)
	if err != nil {
		t.Fatalf("CreateSnapshot without a PV zone: %v", err)
	}
	if p := fake.callsTo("disks.createSnapshot")[0].path; !strings.Contains(p, "/zones/us-central1-f/disks/pvc-nolabel/") {
		t.Errorf("createSnapshot path %s is not in the configured zone", p)
	}
	volID, err := b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(volID, "/zones/us-central1-f/") {
		t.Errorf("restored %s, want it in the configured zone us-central1-f", volID)
	}
	volID, err = b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "us-central1-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(volID, "/zones/us-central1-b/") {
		t.Errorf("restored %s, want it in the PV's zone us-central1-b", volID)
	}
}
