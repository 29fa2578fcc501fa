package azure

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heptio/ark/internal/snapshot"
)

func newTestStore(t *testing.T, f *fakeARM, env map[string]string, cfg map[string]string) *BlockStore {
	t.Helper()
	full := map[string]string{LocationKey: "eastus", ResourceManagerEndpointKey: f.srv.URL, ActiveDirectoryEndpointKey: f.srv.URL + "/"}
	for k, v := range cfg {
		full[k] = v
	}
	b, err := newBlockStore(full, func(name string) string { return env[name] }, f.srv.Client())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.pollFrequency = 5 * time.Millisecond
	return b
}

func TestSnapshotAndRestoreIntoAnotherResourceGroup(t *testing.T) {
	f := newFakeARM(t)
	diskID := f.addDisk(testSubscription, "MC_cluster_eastus", "pvc-0a1b", "Premium_LRS", 0)
	f.addGroup(testSubscription, "ark-group")
	b := newTestStore(t, f, f.env(), nil)
	ctx := context.Background()

	volumeType, iops, err := b.GetVolumeInfo(ctx, diskID, "")
	if err != nil || volumeType != "Premium_LRS" || iops != nil {
		t.Fatalf("GetVolumeInfo = %q, %v, %v; want Premium_LRS, nil", volumeType, iops, err)
	}

	tags := map[string]string{"ark.heptio.com/backup": "nginx-backup", "tag-key": "ark-snapshot"}
	snapID, err := b.CreateSnapshot(ctx, diskID, "eastus-1", tags)
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	// The snapshot sits next to its disk, and its ID says where.
	if !regexp.MustCompile(`^/subscriptions/sub-1/resourceGroups/MC_cluster_eastus/providers/Microsoft.Compute/snapshots/pvc-0a1b-[0-9a-f-]{36}$`).MatchString(snapID) {
		t.Fatalf("snapshot ID %q", snapID)
	}
	puts := f.callsTo(http.MethodPut, "snapshots")
	if len(puts) != 1 {
		t.Fatalf("%d snapshot PUTs", len(puts))
	}
	wantBody := map[string]any{
		"location": "eastus",
		"tags":     map[string]any{"ark.heptio.com-backup": "nginx-backup", "tag-key": "ark-snapshot"},
		"properties": map[string]any{"creationData": map[string]any{
			"createOption": "Copy", "sourceResourceId": diskID,
		}},
	}
	if !reflect.DeepEqual(puts[0].body, wantBody) {
		t.Errorf("snapshot PUT body\n got %v\nwant %v", puts[0].body, wantBody)
	}
	if f.get(snapID) == nil || f.get(snapID)["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
		t.Fatalf("snapshot not Succeeded when CreateSnapshot returned: %v", f.get(snapID))
	}

	// This server's AZURE_RESOURCE_GROUP is ark-group: the restored disk goes
	// there, the snapshot is read from its own group.
	volID, err := b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "eastus-2", nil)
	if err != nil {
		t.Fatalf("CreateVolumeFromSnapshot: %v", err)
	}
	if !regexp.MustCompile(`^/subscriptions/sub-1/resourceGroups/ark-group/providers/Microsoft.Compute/disks/restore-[0-9a-f-]{36}$`).MatchString(volID) {
		t.Fatalf("restored disk ID %q", volID)
	}
	dputs := f.callsTo(http.MethodPut, "disks")
	if len(dputs) != 1 {
		t.Fatalf("%d disk PUTs", len(dputs))
	}
	wantDisk := map[string]any{
		"location": "eastus",
		"sku":      map[string]any{"name": "Premium_LRS"},
		"zones":    []any{"2"},
		"tags":     wantBody["tags"],
		"properties": map[string]any{"creationData": map[string]any{
			"createOption": "Copy", "sourceResourceId": snapID,
		}},
	}
	if !reflect.DeepEqual(dputs[0].body, wantDisk) {
		t.Errorf("disk PUT body\n got %v\nwant %v", dputs[0].body, wantDisk)
	}
	ready, err := b.IsVolumeReady(ctx, volID, "eastus-2")
	if err != nil || !ready {
		t.Fatalf("IsVolumeReady = %v, %v; want true", ready, err)
	}

	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if f.get(snapID) != nil {
		t.Fatal("snapshot still exists after DeleteSnapshot")
	}
	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("second DeleteSnapshot (204 from ARM): %v", err)
	}

	// Every long-running call was polled through its Azure-AsyncOperation.
	if n := len(f.callsTo(http.MethodGet, "operations")); n != 3*(f.opPolls+1) {
		t.Errorf("%d operation polls, want %d", n, 3*(f.opPolls+1))
	}
	for _, c := range f.calls {
		if c.auth != "Bearer "+fakeToken {
			t.Errorf("%s %s sent Authorization %q", c.method, c.path, c.auth)
		}
	}
}

func TestUltraDiskIOPSAndLegacyNames(t *testing.T) {
	f := newFakeARM(t)
	f.addDisk(testSubscription, "ark-group", "ultra-1", "UltraSSD_LRS", 8000)
	b := newTestStore(t, f, f.env(), nil)
	ctx := context.Background()

	// A bare in-tree diskName is looked up in AZURE_RESOURCE_GROUP.
	volumeType, iops, err := b.GetVolumeInfo(ctx, "ultra-1", "")
	if err != nil || volumeType != "UltraSSD_LRS" || iops == nil || *iops != 8000 {
		t.Fatalf("GetVolumeInfo = %q, %v, %v; want UltraSSD_LRS, 8000", volumeType, iops, err)
	}
	snapID, err := b.CreateSnapshot(ctx, "ultra-1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := f.callsTo(http.MethodPut, "snapshots")[0].body["tags"]; has {
		t.Error("tags sent without tags")
	}
	// Heptio Ark v0.7 recorded bare snapshot names.
	legacy := snapID[strings.LastIndex(snapID, "/")+1:]
	if _, err := b.CreateVolumeFromSnapshot(ctx, legacy, volumeType, "0", iops); err != nil {
		t.Fatalf("restore from a bare snapshot name: %v", err)
	}
	body := f.callsTo(http.MethodPut, "disks")[0].body
	props := body["properties"].(map[string]any)
	if props["diskIOPSReadWrite"] != float64(8000) {
		t.Errorf("diskIOPSReadWrite = %v, want 8000", props["diskIOPSReadWrite"])
	}
	if _, has := body["zones"]; has {
		t.Errorf("zone \"0\" (no zone) produced zones %v", body["zones"])
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	f := newFakeARM(t)
	diskID := f.addDisk(testSubscription, "ark-group", "d1", "Standard_LRS", 0)
	b := newTestStore(t, f, f.env(), nil)
	f.failNext("PUT snapshots", armFault{status: http.StatusTooManyRequests, code: "TooManyRequests",
		headers: map[string]string{"Retry-After": "1"}})

	if _, err := b.CreateSnapshot(context.Background(), diskID, "", nil); err != nil {
		t.Fatalf("CreateSnapshot after a 429: %v", err)
	}
	if n := len(f.callsTo(http.MethodPut, "snapshots")); n != 2 {
		t.Errorf("%d snapshot PUTs, want 2 (429, then accepted)", n)
	}
}

func TestThrottlingGivesUpWithAClearError(t *testing.T) {
	f := newFakeARM(t)
	f.addDisk(testSubscription, "ark-group", "d1", "Standard_LRS", 0)
	b := newTestStore(t, f, f.env(), nil)
	throttle := armFault{status: http.StatusTooManyRequests, code: "TooManyRequests", headers: map[string]string{"retry-after-ms": "5"}}
	f.failNext("GET disks", throttle, throttle, throttle, throttle, throttle)

	_, _, err := b.GetVolumeInfo(context.Background(), "d1", "")
	if err == nil {
		t.Fatal("GetVolumeInfo succeeded through five 429s")
	}
	t.Logf("error after throttling: %v", err)
	for _, want := range []string{"throttling", "429 TooManyRequests", "retry later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n := len(f.callsTo(http.MethodGet, "disks")); n != 4 {
		t.Errorf("%d attempts, want 4 (the SDK's 3 retries)", n)
	}
}

func TestNotFound(t *testing.T) {
	f := newFakeARM(t)
	f.addGroup(testSubscription, "ark-group")
	b := newTestStore(t, f, f.env(), nil)
	ctx := context.Background()

	_, _, err := b.GetVolumeInfo(ctx, "missing", "")
	if !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("GetVolumeInfo of a missing disk: %v", err)
	}
	if _, err := b.CreateSnapshot(ctx, "missing", "", nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("CreateSnapshot of a missing disk: %v", err)
	}
	_, err = b.CreateVolumeFromSnapshot(ctx, "/subscriptions/sub-1/resourceGroups/ark-group/providers/Microsoft.Compute/snapshots/gone", "", "", nil)
	if !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("restore from a missing snapshot: %v", err)
	}
	if err := b.DeleteSnapshot(ctx, "gone"); err != nil {
		t.Errorf("DeleteSnapshot of a missing snapshot (204): %v", err)
	}
	if err := b.DeleteSnapshot(ctx, "/subscriptions/sub-1/resourceGroups/deleted-group/providers/Microsoft.Compute/snapshots/s"); err != nil {
		t.Errorf("DeleteSnapshot in a missing resource group (404): %v", err)
	}
}

func TestTokenFailureSurfacesWithTheFix(t *testing.T) {
	f := newFakeARM(t)
	diskID := f.addDisk(testSubscription, "ark-group", "d1", "Standard_LRS", 0)
	f.tokenStatus = http.StatusUnauthorized
	b := newTestStore(t, f, f.env(), nil)

	_, err := b.CreateSnapshot(context.Background(), diskID, "", nil)
	if err == nil {
		t.Fatal("CreateSnapshot with a refused token succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Errorf("error does not wrap ErrCredentials: %v", err)
	}
	for _, want := range []string{"Failed to refresh the Token", "AADSTS7000215", "cloud-credentials", "AZURE_CLIENT_SECRET", "environment variables"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if n := len(f.callsTo(http.MethodPut, "snapshots")); n != 0 {
		t.Errorf("%d PUTs reached ARM without a token", n)
	}
}

func TestMissingEnvironment(t *testing.T) {
	f := newFakeARM(t)
	env := f.env()
	delete(env, ClientSecretEnv)
	delete(env, TenantIDEnv)
	_, err := newBlockStore(map[string]string{LocationKey: "eastus"}, func(n string) string { return env[n] }, nil)
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Fatalf("New without AZURE_CLIENT_SECRET: %v", err)
	}
	for _, want := range []string{"AZURE_TENANT_ID, AZURE_CLIENT_SECRET", "Failed to refresh the Token", "cloud-credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestFailedOperationAndStates(t *testing.T) {
	f := newFakeARM(t)
	diskID := f.addDisk(testSubscription, "ark-group", "d1", "Standard_LRS", 0)
	b := newTestStore(t, f, f.env(), nil)
	ctx := context.Background()
	snapID, err := b.CreateSnapshot(ctx, diskID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.opError = map[string]any{"code": "OperationNotAllowed", "message": "Operation results in exceeding quota limits of Core."}
	f.mu.Unlock()
	_, err = b.CreateVolumeFromSnapshot(ctx, snapID, "Standard_LRS", "", nil)
	if err == nil || !strings.Contains(err.Error(), "OperationNotAllowed") || !strings.Contains(err.Error(), snapID) {
		t.Fatalf("failed disk creation: %v", err)
	}

	// A disk whose creation is still running is not ready; a failed one errs.
	restored := f.callsTo(http.MethodPut, "disks")[0].path
	f.mu.Lock()
	props := f.resources[strings.ToLower(restored)]["properties"].(map[string]any)
	f.mu.Unlock()
	if ready, err := b.IsVolumeReady(ctx, restored, ""); err != nil || ready {
		t.Errorf("IsVolumeReady while Creating = %v, %v", ready, err)
	}
	f.mu.Lock()
	props["provisioningState"] = "Failed"
	f.mu.Unlock()
	if _, err := b.IsVolumeReady(ctx, restored, ""); err == nil || !strings.Contains(err.Error(), "Failed") {
		t.Errorf("IsVolumeReady of a Failed disk: %v", err)
	}
}

func TestAPITimeoutBoundsLongOperations(t *testing.T) {
	f := newFakeARM(t)
	diskID := f.addDisk(testSubscription, "ark-group", "d1", "Standard_LRS", 0)
	f.opPolls = 1 << 30 // never finishes
	b := newTestStore(t, f, f.env(), map[string]string{APITimeoutKey: "300ms"})
	_, err := b.CreateSnapshot(context.Background(), diskID, "", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CreateSnapshot past apiTimeout: %v, want a deadline error", err)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFakeARM(t)
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"missing location", map[string]string{}, []string{`"location"`, "persistentVolumeProvider.config.location"}},
		{"bad apiTimeout", map[string]string{LocationKey: "eastus", APITimeoutKey: "2 minutes"}, []string{"apiTimeout", "2m"}},
		{"unknown key", map[string]string{LocationKey: "eastus", "region": "x"}, []string{`"region"`, "location", "apiTimeout"}},
		{"bad endpoint", map[string]string{LocationKey: "eastus", ResourceManagerEndpointKey: "management.local"}, []string{"resourceManagerEndpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newBlockStore(tc.config, func(n string) string { return f.env()[n] }, nil)
			if !errors.Is(err, snapshot.ErrInvalidConfig) {
				t.Fatalf("New(%v) = %v, want ErrInvalidConfig", tc.config, err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	b, err := newBlockStore(map[string]string{LocationKey: "eastus"}, func(n string) string { return f.env()[n] }, nil)
	if err != nil || b.apiTimeout != 2*time.Minute {
		t.Errorf("default apiTimeout = %v, %v; want 2m", b, err)
	}
}
