package aws

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/heptio/ark/internal/snapshot"
)

const testAccessKey = "AKIDARKTEST"

// isolateAWSEnv makes the SDK's credential chain see only what the test
// gives it: no env keys, no ~/.aws, no instance metadata.
func isolateAWSEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_REGION", "AWS_DEFAULT_REGION",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	return dir
}

// withCredentialsFile writes a credentials-ark file the way the docs tell
// users to, and points AWS_SHARED_CREDENTIALS_FILE at it.
func withCredentialsFile(t *testing.T) {
	t.Helper()
	dir := isolateAWSEnv(t)
	path := filepath.Join(dir, "cloud")
	body := "[default]\naws_access_key_id=" + testAccessKey + "\naws_secret_access_key=secret123\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", path)
}

// fastRetries keeps the SDK's retry rules (which errors retry, how many
// attempts) but not its multi-second backoff.
func fastRetries(o *ec2.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

func newTestStore(t *testing.T, fake *fakeEC2) *BlockStore {
	t.Helper()
	b, err := newBlockStore(map[string]string{RegionKey: "us-east-1", EC2URLKey: fake.url()}, fastRetries)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.snapshotWaitMin, b.snapshotWaitMax = time.Millisecond, 5*time.Millisecond
	return b
}

func TestSnapshotAndRestoreRoundTrip(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.addVolume(fakeVolume{id: "vol-0abc", zone: "us-east-1a", volumeType: "io1", iops: 4000, size: 100})
	b := newTestStore(t, fake)
	ctx := context.Background()

	volumeType, iops, err := b.GetVolumeInfo(ctx, "vol-0abc", "us-east-1a")
	if err != nil {
		t.Fatalf("GetVolumeInfo: %v", err)
	}
	if volumeType != "io1" || iops == nil || *iops != 4000 {
		t.Fatalf("GetVolumeInfo = %q, %v; want io1, 4000", volumeType, iops)
	}

	tags := map[string]string{"ark.heptio.com/backup": "nginx-backup", "tag-key": "ark-snapshot"}
	snapID, err := b.CreateSnapshot(ctx, "vol-0abc", "us-east-1a", tags)
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if !strings.HasPrefix(snapID, "snap-") {
		t.Fatalf("snapshot ID %q", snapID)
	}
	creates := fake.calls("CreateSnapshot")
	if len(creates) != 1 {
		t.Fatalf("%d CreateSnapshot calls, want 1", len(creates))
	}
	p := creates[0].params
	if p.Get("VolumeId") != "vol-0abc" || p.Get("TagSpecification.1.ResourceType") != "snapshot" {
		t.Errorf("CreateSnapshot params %v", p)
	}
	// Sorted keys: deterministic requests.
	if p.Get("TagSpecification.1.Tag.1.Key") != "ark.heptio.com/backup" || p.Get("TagSpecification.1.Tag.1.Value") != "nginx-backup" ||
		p.Get("TagSpecification.1.Tag.2.Key") != "tag-key" || p.Get("TagSpecification.1.Tag.2.Value") != "ark-snapshot" {
		t.Errorf("CreateSnapshot tags %v", p)
	}
	if got := tagsOf(fake.snapshot(snapID).tags); !reflect.DeepEqual(got, tags) {
		t.Errorf("snapshot tags %v, want %v", got, tags)
	}
	// The shared credentials file is what signed the request.
	if auth := creates[0].auth; !strings.Contains(auth, "Credential="+testAccessKey+"/") || !strings.Contains(auth, "/us-east-1/ec2/aws4_request") {
		t.Errorf("Authorization %q not signed with the credentials file for us-east-1/ec2", auth)
	}

	// The snapshot is pending for two polls; CreateVolume on a pending one
	// would get IncorrectState from the fake, as from EC2.
	volID, err := b.CreateVolumeFromSnapshot(ctx, snapID, volumeType, "us-east-1b", iops)
	if err != nil {
		t.Fatalf("CreateVolumeFromSnapshot: %v", err)
	}
	if n := len(fake.calls("DescribeSnapshots")); n != fake.pendingPolls+1 {
		t.Errorf("%d DescribeSnapshots polls, want %d (pending, pending, completed)", n, fake.pendingPolls+1)
	}
	cv := fake.calls("CreateVolume")
	if len(cv) != 1 {
		t.Fatalf("%d CreateVolume calls, want 1", len(cv))
	}
	p = cv[0].params
	for key, want := range map[string]string{
		"SnapshotId": snapID, "AvailabilityZone": "us-east-1b", "VolumeType": "io1", "Iops": "4000",
		"TagSpecification.1.ResourceType": "volume",
	} {
		if got := p.Get(key); got != want {
			t.Errorf("CreateVolume %s=%q, want %q", key, got, want)
		}
	}
	if p.Get("ClientToken") == "" {
		t.Errorf("CreateVolume without the SDK's idempotency ClientToken: %v", p)
	}
	if got := tagsOf(tagSpec(t, p, "volume")); !reflect.DeepEqual(got, tags) {
		t.Errorf("volume tags %v, want the snapshot's %v", got, tags)
	}

	ready, err := b.IsVolumeReady(ctx, volID, "us-east-1b")
	if err != nil || ready {
		t.Fatalf("first IsVolumeReady = %v, %v; want false (creating)", ready, err)
	}
	ready, err = b.IsVolumeReady(ctx, volID, "us-east-1b")
	if err != nil || !ready {
		t.Fatalf("second IsVolumeReady = %v, %v; want true (available)", ready, err)
	}

	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("DeleteSnapshot: %v", err)
	}
	if fake.snapshot(snapID) != nil {
		t.Fatal("snapshot still exists after DeleteSnapshot")
	}
	// Deleting again meets InvalidSnapshot.NotFound, which is success.
	if err := b.DeleteSnapshot(ctx, snapID); err != nil {
		t.Fatalf("second DeleteSnapshot: %v", err)
	}
	if n := len(fake.calls("DeleteSnapshot")); n != 2 {
		t.Errorf("%d DeleteSnapshot calls, want 2", n)
	}
}

func TestIOPSOnlyForProvisionedTypes(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.pendingPolls = 0
	fake.addVolume(fakeVolume{id: "vol-gp2", zone: "us-east-1a", volumeType: "gp2", iops: 300, size: 10})
	b := newTestStore(t, fake)
	ctx := context.Background()

	volumeType, iops, err := b.GetVolumeInfo(ctx, "vol-gp2", "")
	if err != nil || volumeType != "gp2" || iops != nil {
		t.Fatalf("GetVolumeInfo = %q, %v, %v; want gp2 with no IOPS (derived, not provisioned)", volumeType, iops, err)
	}
	snapID, err := b.CreateSnapshot(ctx, "vol-gp2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := fake.calls("CreateSnapshot")[0].params; p.Has("TagSpecification.1.ResourceType") {
		t.Errorf("CreateSnapshot without tags sent a TagSpecification: %v", p)
	}
	stray := int64(300)
	if _, err := b.CreateVolumeFromSnapshot(ctx, snapID, "gp2", "us-east-1a", &stray); err != nil {
		t.Fatal(err)
	}
	if p := fake.calls("CreateVolume")[0].params; p.Has("Iops") {
		t.Errorf("CreateVolume for gp2 sent Iops=%s; EC2 rejects that", p.Get("Iops"))
	}
}

func TestRestoreWithoutZoneUsesSourceVolumeZone(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.pendingPolls = 0
	fake.addVolume(fakeVolume{id: "vol-src", zone: "us-east-1c", volumeType: "gp3", size: 10})
	b := newTestStore(t, fake)
	ctx := context.Background()
	snapID, err := b.CreateSnapshot(ctx, "vol-src", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateVolumeFromSnapshot(ctx, snapID, "gp3", "", nil); err != nil {
		t.Fatal(err)
	}
	if got := fake.calls("CreateVolume")[0].params.Get("AvailabilityZone"); got != "us-east-1c" {
		t.Errorf("AvailabilityZone=%q, want the source volume's us-east-1c", got)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.addVolume(fakeVolume{id: "vol-1", zone: "us-east-1a", volumeType: "gp2", size: 10})
	b := newTestStore(t, fake)
	fake.failNext("CreateSnapshot",
		ec2Fault{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."},
		ec2Fault{http.StatusBadRequest, "RequestLimitExceeded", "Request limit exceeded."})

	snapID, err := b.CreateSnapshot(context.Background(), "vol-1", "us-east-1a", map[string]string{"k": "v"})
	if err != nil {
		t.Fatalf("CreateSnapshot after two throttles: %v", err)
	}
	if n := len(fake.calls("CreateSnapshot")); n != 3 {
		t.Errorf("%d CreateSnapshot attempts, want 3 (503, 400, success)", n)
	}
	if fake.snapshot(snapID) == nil {
		t.Errorf("snapshot %s not created", snapID)
	}
}

func TestThrottlingGivesUpWithAClearError(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	b := newTestStore(t, fake)
	throttle := ec2Fault{http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded."}
	fake.failNext("DescribeVolumes", throttle, throttle, throttle, throttle)

	_, _, err := b.GetVolumeInfo(context.Background(), "vol-1", "")
	if err == nil {
		t.Fatal("GetVolumeInfo succeeded through four throttles")
	}
	t.Logf("error after throttling: %v", err)
	for _, want := range []string{"vol-1", "RequestLimitExceeded", "after 3 attempts", "retry later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := len(fake.calls("DescribeVolumes")); n != 3 {
		t.Errorf("%d attempts, want the SDK default of 3", n)
	}
}

func TestNotFound(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	b := newTestStore(t, fake)
	ctx := context.Background()

	_, _, err := b.GetVolumeInfo(ctx, "vol-missing", "")
	if !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("GetVolumeInfo on a missing volume: %v, want ErrNotFound", err)
	}
	for _, want := range []string{"vol-missing", "InvalidVolume.NotFound", "us-east-1", "region"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := b.CreateSnapshot(ctx, "vol-missing", "", nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("CreateSnapshot on a missing volume: %v, want ErrNotFound", err)
	}
	if _, err := b.CreateVolumeFromSnapshot(ctx, "snap-missing", "gp2", "us-east-1a", nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("CreateVolumeFromSnapshot from a missing snapshot: %v, want ErrNotFound", err)
	}
	if err := b.DeleteSnapshot(ctx, "snap-missing"); err != nil {
		t.Errorf("DeleteSnapshot of a missing snapshot: %v, want success", err)
	}
	// Right after CreateVolume EC2 may not know the volume yet.
	if ready, err := b.IsVolumeReady(ctx, "vol-missing", ""); err != nil || ready {
		t.Errorf("IsVolumeReady on an unknown volume = %v, %v; want false, nil", ready, err)
	}
}

func TestFailedSnapshotIsNotRestored(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.addVolume(fakeVolume{id: "vol-1", zone: "us-east-1a", volumeType: "gp2", size: 10})
	b := newTestStore(t, fake)
	ctx := context.Background()
	snapID, err := b.CreateSnapshot(ctx, "vol-1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := fake.snapshot(snapID)
	fake.mu.Lock()
	s.state, s.stateMessage = "error", "internal error copying blocks"
	fake.mu.Unlock()

	_, err = b.CreateVolumeFromSnapshot(ctx, snapID, "gp2", "us-east-1a", nil)
	if err == nil || !strings.Contains(err.Error(), snapID) || !strings.Contains(err.Error(), "internal error copying blocks") {
		t.Fatalf("restore from a failed snapshot: %v", err)
	}
	if n := len(fake.calls("CreateVolume")); n != 0 {
		t.Errorf("CreateVolume called %d times for a failed snapshot", n)
	}
}

func TestNoCredentials(t *testing.T) {
	isolateAWSEnv(t)
	fake := newFakeEC2(t)
	b, err := newBlockStore(map[string]string{RegionKey: "us-east-1", EC2URLKey: fake.url()}, fastRetries)
	if err != nil {
		t.Fatalf("New without credentials should defer the failure to the first call: %v", err)
	}
	_, err = b.CreateSnapshot(context.Background(), "vol-1", "us-east-1a", nil)
	if err == nil {
		t.Fatal("CreateSnapshot without credentials succeeded")
	}
	t.Logf("error without credentials: %v", err)
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Errorf("error does not wrap ErrCredentials: %v", err)
	}
	for _, want := range []string{
		"NoCredentialProviders: no valid providers in chain",
		"cloud-credentials", "single key, cloud", "[default]", "aws_access_key_id", "aws_secret_access_key",
		"/credentials", "AWS_SHARED_CREDENTIALS_FILE",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if reqs := fake.allRequests(); len(reqs) != 0 {
		t.Errorf("%d unsigned requests reached EC2", len(reqs))
	}
}

func TestRejectedCredentials(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	b := newTestStore(t, fake)
	fake.failNext("CreateSnapshot", ec2Fault{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"})
	_, err := b.CreateSnapshot(context.Background(), "vol-1", "", nil)
	if !errors.Is(err, snapshot.ErrCredentials) {
		t.Fatalf("AuthFailure: %v, want ErrCredentials", err)
	}
	for _, want := range []string{"AuthFailure", "AmazonEC2FullAccess", "cloud-credentials"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	withCredentialsFile(t)
	fake := newFakeEC2(t)
	fake.addVolume(fakeVolume{id: "vol-env", zone: "us-east-1a", volumeType: "gp2", size: 10})
	t.Setenv("AWS_ENDPOINT_URL_EC2", fake.url())
	b, err := New(map[string]string{RegionKey: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.GetVolumeInfo(context.Background(), "vol-env", ""); err != nil {
		t.Fatalf("GetVolumeInfo through AWS_ENDPOINT_URL_EC2: %v", err)
	}
	if n := len(fake.calls("DescribeVolumes")); n != 1 {
		t.Errorf("%d DescribeVolumes calls reached the fake, want 1", n)
	}
}

func TestConfigErrors(t *testing.T) {
	withCredentialsFile(t)
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"missing region", map[string]string{}, []string{`"region"`, "persistentVolumeProvider.config.region"}},
		{"unknown key", map[string]string{RegionKey: "us-east-1", "s3Url": "http://x"}, []string{`"s3Url"`, "region", "ec2Url"}},
		{"bad url", map[string]string{RegionKey: "us-east-1", EC2URLKey: "127.0.0.1:9"}, []string{"ec2Url", "http://"}},
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
