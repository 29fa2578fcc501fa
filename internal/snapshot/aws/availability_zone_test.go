package aws

import (
	"context"
	"testing"
)

// The availabilityZone key of Heptio Ark's examples/aws/00-ark-config.yaml
// places volumes restored from PVs that carry no zone label; a PV's own zone
// still wins.
func TestConfiguredAvailabilityZone(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.pendingPolls = 0
	fake.addVolume(fakeVolume{id: "vol-src", zone: "us-east-1c", volumeType: "gp3", size: 10})
	b, err := newBlockStore(map[string]string{RegionKey: "us-east-1", EC2URLKey: fake.url(), AvailabilityZoneKey: "us-east-1b"}, fastRetries)
	if err != nil {
		t.Fatalf("New with availabilityZone: %v", err)
	}
	ctx := context.Background()
	snapID, err := b.CreateSnapshot(ctx, "vol-src", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateVolumeFromSnapshot(ctx, snapID, "gp3", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateVolumeFromSnapshot(ctx, snapID, "gp3", "us-east-1a", nil); err != nil {
		t.Fatal(err)
	}
	calls := fake.calls("CreateVolume")
	if len(calls) != 2 {
		t.Fatalf("%d CreateVolume calls, want 2", len(calls))
	}
	if got := calls[0].params.Get("AvailabilityZone"); got != "us-east-1b" {
		t.Errorf("without a PV zone: AvailabilityZone=%q, want the configured us-east-1b", got)
	}
	if got := calls[1].params.Get("AvailabilityZone"); got != "us-east-1a" {
		t.Errorf("with a PV zone: AvailabilityZone=%q, want the PV's us-east-1a", got)
	}
}
