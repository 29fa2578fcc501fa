package gcp

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	gax "github.com/googleapis/gax-go/v2"

	"github.com/heptio/ark/internal/snapshot"
)

func newTestStore(t *testing.T, fake *fakeGCE) *BlockStore {
	t.Helper()
	fake.writeCredentials(t)
	b, err := New(map[string]string{ProjectKey: "my-project", ComputeURLKey: fake.computeURL()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Keep the retry rules, not the multi-second pauses.
	b.backoff = gax.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	return b
}

var rfc1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func TestSnapshotAndRestoreRoundTrip(t *testing.T) {
	fake := newFakeGCE(t)
	fake.addDisk("my-project", "us-central1-a", "pvc-0a1b", "pd-ssd", 0)
	b := newTestStore(t, fake)
	ctx := context.Background()

	volumeType, iops, err := b.GetVolumeInfo(ctx, "pvc-0a1b", "us-central1-a")
	if err != nil || volumeType != "pd-ssd" || iops != nil {
		t.Fatalf("GetVolumeInfo = %q, %v, %v; want pd-ssd, nil", volumeType, iops, err)
	}

	tags := map[string]string{"ark.heptio.com/backup": "Nginx-Backup", "tag-key": "ark-snapshot"}
	snapID, err := b.CreateSnapshot(ctx, "pvc-0a1b", "us-central1-a", tags)
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if !rfc1035.MatchString(snapID) || !strings.HasPrefix(snapID, "pvc-0a1b-") {
		t.Errorf("snapshot name %q is not an RFC 1035 name derived from the disk", snapID)
	}
	cs := fake.callsTo("disks.createSnapshot")
	if len(cs) != 1 {
		t.Fatalf("%d createSnapshot calls", len(cs))
	}
	if cs[0].path != "/compute/v1/projects/my-project/zones/us-central1-a/disks/pvc-0a1b/createSnapshot" {
		t.Errorf("createSnapshot path %s", cs[0].path)
	}
	wantLabels := map[string]any{"ark-heptio-com-backup": "nginx-backup", "tag-key": "ark-snapshot"}
	if cs[0].body["name"] != snapID || !reflect.DeepEqual(cs[0].body["labels"], wantLabels) {
		t.Errorf("createSnapshot body %v; want name %s and labels %v", cs[0].body, snapID, wantLabels)
	}
	// CreateSnapshot returned only after the zonal operation was DONE.
	if n := len(fake.callsTo("zoneOperations.wait")); n != fake.opSteps {
		t.Errorf("%d zoneOperations.wait calls, want %d (RUNNING, DONE)", n, fake.opSteps)
	}
	if fake.snapshot("my-project", snapID) == nil {
		t.Fatal("snapshot does not exist after CreateSnapshot returned")
	}

	volID, err := b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "us-central1-b", nil)
	if err != nil {
		t.Fatalf("CreateVolumeFromSnapshot: %v", err)
	}
	if !regexp.MustCompile(`^projects/my-project/zones/us-central1-b/disks/restore-[0-9a-f-]{36}$`).MatchString(volID) {
		t.Errorf("restored volume ID %q", volID)
	}
	ins := fake.callsTo("disks.insert")
	if len(ins) != 1 {
		t.Fatalf("%d disks.insert calls", len(ins))
	}
	body := ins[0].body
	if body["sourceSnapshot"] != fake.url("projects/my-project/global/snapshots/"+snapID) ||
		body["type"] != "projects/my-project/zones/us-central1-b/diskTypes/pd-ssd" ||
		!reflect.DeepEqual(body["labels"], wantLabels) || body["name"] != lastSegment(volID) {
		t.Errorf("disks.insert body %v", body)
	}
	if _, has := body["provisionedIops"]; has {
		t.Errorf("disks.insert sent provisionedIops for pd-ssd: %v", body)
	}

	ready, err := b.IsVolumeReady(ctx, volID, "us-central1-b")
	if err != nil || ready {
		t.Fatalf("first IsVolumeReady = %v, %v; want false (CREATING)", ready, err)
	}
	ready, err = b.IsVolumeReady(ctx, volID, "us-central1-b")
	if err != nil || !ready {
		t.Fatalf("second IsVolumeReady = %v, %v; want true (READY)", ready, err)
	}

	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if fake.snapshot("my-project", snapID) != nil {
		t.Fatal("snapshot still exists after DeleteSnapshot")
	}
	if n := len(fake.callsTo("globalOperations.wait")); n != fake.opSteps {
		t.Errorf("%d globalOperations.wait calls, want %d", n, fake.opSteps)
	}
	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("DeleteSnapshot of a deleted snapshot (404) should succeed: %v", err)
	}

	// Every Compute call carried the token the service account key earned.
	for _, c := range fake.allCalls() {
		if c.auth != "Bearer "+fakeAccessToken {
			t.Errorf("%s sent Authorization %q", c.route, c.auth)
		}
	}
}

func TestCSIVolumeInAnotherProject(t *testing.T) {
	fake := newFakeGCE(t)
	fake.addDisk("other-project", "europe-west1-c", "pvc-csi", "pd-extreme", 5000)
	b := newTestStore(t, fake)
	ctx := context.Background()
	handle := "projects/other-project/zones/europe-west1-c/disks/pvc-csi"

	volumeType, iops, err := b.GetVolumeInfo(ctx, handle, "")
	if err != nil || volumeType != "pd-extreme" || iops == nil || *iops != 5000 {
		t.Fatalf("GetVolumeInfo = %q, %v, %v; want pd-extreme, 5000", volumeType, iops, err)
	}
	snapID, err := b.CreateSnapshot(ctx, handle, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(snapID, "projects/other-project/global/snapshots/pvc-csi-") {
		t.Errorf("snapshot ID %q does not say it lives in other-project", snapID)
	}
	if _, has := fake.callsTo("disks.createSnapshot")[0].body["labels"]; has {
		t.Error("labels sent without tags")
	}
	// No zone: the snapshot's source disk gives it.
	volID, err := b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "", iops)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(volID, "projects/my-project/zones/europe-west1-c/disks/restore-") {
		t.Errorf("restored volume %q, want it in the configured project and the source zone", volID)
	}
	body := fake.callsTo("disks.insert")[0].body
	if body["provisionedIops"] != "5000" {
		t.Errorf("provisionedIops = %#v, want the JSON string \"5000\"", body["provisionedIops"])
	}
	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatal(err)
	}
	if got := fake.callsTo("snapshots.delete")[0].path; got != "/compute/v1/projects/other-project/global/snapshots/"+lastSegment(snapID) {
		t.Errorf("snapshots.delete path %s", got)
	}
}

func TestRateLimitIsRetried(t *testing.T) {
	fake := newFakeGCE(t)
	fake.addDisk("my-project", "us-central1-a", "d1", "pd-standard", 0)
	b := newTestStore(t, fake)
	limit := gceFault{http.StatusTooManyRequests, "rateLimitExceeded", "Rate Limit Exceeded"}
	fake.failNext("disks.createSnapshot", limit, limit)
	fake.failNext("zoneOperations.wait", limit)

	snapID, err := b.CreateSnapshot(context.Background(), "d1", "us-central1-a", map[string]string{"a": "b"})
	if err != nil {
		t.Fatalf("CreateSnapshot through rate limits: %v", err)
	}
	cs := fake.callsTo("disks.createSnapshot")
	if len(cs) != 3 {
		t.Fatalf("%d createSnapshot attempts, want 3", len(cs))
	}
	// Retries reuse the requestId so GCE can drop duplicates.
	id := cs[0].query["requestId"][0]
	for _, c := range cs[1:] {
		if c.query["requestId"][0] != id {
			t.Errorf("retry changed requestId: %s vs %s", c.query["requestId"][0], id)
		}
	}
	if fake.snapshot("my-project", snapID) == nil {
		t.Error("snapshot missing after retries")
	}
}

func TestRateLimitGivesUpWithAClearError(t *testing.T) {
	fake := newFakeGCE(t)
	b := newTestStore(t, fake)
	limit := gceFault{http.StatusTooManyRequests, "rateLimitExceeded", "Rate Limit Exceeded"}
	for i := 0; i < 10; i++ {
		fake.failNext("disks.get", limit)
	}
	_, _, err := b.GetVolumeInfo(context.Background(), "d1", "us-central1-a")
	if err == nil {
		t.Fatal("GetVolumeInfo succeeded through 10 rate limits")
	}
	t.Logf("error after rate limiting: %v", err)
	for _, want := range []string{"rateLimitExceeded", "retry later", "quota"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(fake.callsTo("disks.get")); n != b.maxAttempts {
		t.Errorf("%d attempts, want %d", n, b.maxAttempts)
	}
}

func TestNotFound(t *testing.T) {
	fake := newFakeGCE(t)
	b := newTestStore(t, fake)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"GetVolumeInfo": func() error { _, _, err := b.GetVolumeInfo(ctx, "missing", "us-central1-a"); return err },
		"CreateSnapshot": func() error {
			_, err := b.CreateSnapshot(ctx, "missing", "us-central1-a", nil)
			return err
		},
		"CreateVolumeFromSnapshot": func() error {
			_, err := b.CreateVolumeFromSnapshot(ctx, "missing-snap", "pd-ssd", "us-central1-a", nil)
			return err
		},
		"IsVolumeReady": func() error { _, err := b.IsVolumeReady(ctx, "missing", "us-central1-a"); return err },
	} {
		err := call()
		if !errors.Is(err, snapshot.ErrNotFound) || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), `"my-project"`) {
			t.Errorf("%s: %v; want ErrNotFound naming the resource and project", name, err)
		}
	}
	if err := b.DeleteSnapshot(ctx, "missing-snap"); err != nil {
		t.Errorf("DeleteSnapshot of a missing snapshot: %v", err)
	}
}

func TestFailedOperationSurfaces(t *testing.T) {
	fake := newFakeGCE(t)
	fake.addDisk("my-project", "us-central1-a", "d1", "pd-standard", 0)
	b := newTestStore(t, fake)
	ctx := context.Background()
	snapID, err := b.CreateSnapshot(ctx, "d1", "us-central1-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	fake.insertError = map[string]any{"code": "QUOTA_EXCEEDED", "message": "Quota 'SSD_TOTAL_GB' exceeded. Limit: 500.0 in region us-central1."}
	fake.mu.Unlock()
	_, err = b.CreateVolumeFromSnapshot(ctx, snapID, "pd-ssd", "us-central1-a", nil)
	if err == nil {
		t.Fatal("CreateVolumeFromSnapshot succeeded although its operation failed")
	}
	for _, want := range []string{"QUOTA_EXCEEDED", "SSD_TOTAL_GB", "operation-", snapID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestMissingCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials", "cloud")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	_, err := New(map[string]string{ProjectKey: "my-project"})
	if err == nil {
		t.Fatal("New with a missing credentials file succeeded")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Errorf("error does not wrap ErrCredentials: %v", err)
	}
	for _, want := range []string{
		"open " + path + ": no such file or directory",
		"cloud-credentials", "single key, cloud", "/credentials", "GOOGLE_APPLICATION_CREDENTIALS",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestTokenRefusedSurfacesWithTheFix(t *testing.T) {
	fake := newFakeGCE(t)
	b := newTestStore(t, fake)
	fake.tokenFault = &gceFault{http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature."}
	_, _, err := b.GetVolumeInfo(context.Background(), "d1", "us-central1-a")
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Fatalf("refused token: %v; want ErrCredentials", err)
	}
	for _, want := range []string{"invalid_grant", "cloud-credentials", "GOOGLE_APPLICATION_CREDENTIALS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if n := len(fake.callsTo("disks.get")); n != 0 {
		t.Errorf("%d unauthenticated calls reached Compute", n)
	}
}

func TestPermissionDenied(t *testing.T) {
	fake := newFakeGCE(t)
	b := newTestStore(t, fake)
	fake.failNext("disks.get", gceFault{http.StatusForbidden, "forbidden", "Required 'compute.disks.get' permission"})
	_, _, err := b.GetVolumeInfo(context.Background(), "d1", "us-central1-a")
	if !errors.Is(err, snapshot.ErrCredentials) || !strings.Contains(err.Error(), "roles/compute.storageAdmin") {
		t.Fatalf("403: %v; want ErrCredentials naming roles/compute.storageAdmin", err)
	}
	if n := len(fake.callsTo("disks.get")); n != 1 {
		t.Errorf("a plain 403 was retried: %d calls", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"missing project", map[string]string{}, []string{`"project"`, "persistentVolumeProvider.config.project"}},
		{"unknown key", map[string]string{ProjectKey: "p", "region": "x"}, []string{`"region"`, "project", "computeUrl"}},
		{"bad url", map[string]string{ProjectKey: "p", ComputeURLKey: "localhost:1"}, []string{"computeUrl", "http://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.config)
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
}
