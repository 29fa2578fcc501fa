// Package aws snapshots EBS volumes with aws-sdk-go-v2's EC2 client.
//
// Config keys (the Ark Config's persistentVolumeProvider.config):
//
//	region   required; the region of the cluster's volumes, e.g. us-east-1
//	ec2Url   optional; an EC2-compatible endpoint (tests, private endpoints).
//	         AWS_ENDPOINT_URL_EC2 is honoured too; ec2Url wins.
//	availabilityZone  optional; the zone of volumes restored from a PV that
//	         has no zone label (the <YOUR_AVAILABILITY_ZONE> of Heptio Ark's
//	         examples/aws/00-ark-config.yaml). Without it such volumes go to
//	         the zone of the snapshot's source volume.
//
// Credentials come from the SDK's default chain: in the Ark deployment that is
// AWS_SHARED_CREDENTIALS_FILE=/credentials/cloud from the cloud-credentials
// secret.
package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/heptio/ark/internal/snapshot"
)

// Config keys.
const (
	RegionKey           = "region"
	EC2URLKey           = "ec2Url"
	AvailabilityZoneKey = "availabilityZone"
)

// iopsVolumeTypes are the EBS types whose IOPS are provisioned, so a restored
// volume must ask for the same figure. Other types report a derived IOPS that
// CreateVolume rejects.
var iopsVolumeTypes = map[string]bool{"io1": true, "io2": true, "gp3": true}

// BlockStore implements snapshot.BlockStore for EBS.
type BlockStore struct {
	ec2    *ec2.Client
	region string
	// defaultZone is where volumes restored from PVs without a zone label go.
	defaultZone string

	// snapshotWaitMin/Max bound the polling interval while a restore waits for
	// a pending snapshot; tests shorten them.
	snapshotWaitMin, snapshotWaitMax time.Duration
}

var _ snapshot.BlockStore = (*BlockStore)(nil)

// Keys are the config keys of the aws block store.
var Keys = providerconfig.Keys{Known: []string{RegionKey, EC2URLKey, AvailabilityZoneKey}, Required: [][]string{{RegionKey}}}

// New builds an EBS block store from the Ark config. It does not call AWS:
// missing credentials surface on the first call, with the fix in the error.
func New(cfg map[string]string) (*BlockStore, error) {
	return newBlockStore(cfg)
}

func newBlockStore(cfg map[string]string, extra ...func(*ec2.Options)) (*BlockStore, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("%w: aws block store: %w", snapshot.ErrInvalidConfig, err)
	}
	region := cfg[RegionKey]
	if region == "" {
		return nil, fmt.Errorf("%w: missing %q in the aws block store config: set persistentVolumeProvider.config.region "+
			"in the Ark Config to the region of your volumes (e.g. us-east-1)", snapshot.ErrInvalidConfig, RegionKey)
	}

	awsCfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("%w: loading AWS configuration: %v. %s", snapshot.ErrCredentials, err, credentialsFix)
	}
	awsCfg.Credentials = credentialsWithFix{inner: awsCfg.Credentials}

	opts := []func(*ec2.Options){}
	if endpoint := cfg[EC2URLKey]; endpoint != "" {
		if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
			return nil, fmt.Errorf("%w: %s %q must be a URL starting with http:// or https://",
				snapshot.ErrInvalidConfig, EC2URLKey, endpoint)
		}
		opts = append(opts, func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(endpoint) })
	}
	opts = append(opts, extra...)

	return &BlockStore{
		ec2:             ec2.NewFromConfig(awsCfg, opts...),
		region:          region,
		defaultZone:     cfg[AvailabilityZoneKey],
		snapshotWaitMin: 15 * time.Second,
		snapshotWaitMax: 2 * time.Minute,
	}, nil
}

// GetVolumeInfo returns the EBS volume type and, for provisioned-IOPS types,
// its IOPS.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, zone string) (string, *int64, error) {
	vol, err := b.describeVolume(ctx, volumeID)
	if err != nil {
		return "", nil, err
	}
	volumeType := string(vol.VolumeType)
	var iops *int64
	if iopsVolumeTypes[volumeType] && vol.Iops != nil {
		v := int64(*vol.Iops)
		iops = &v
	}
	return volumeType, iops, nil
}

// CreateSnapshot starts an EBS snapshot tagged with tags and returns its ID
// without waiting: an EBS snapshot is point-in-time from the moment it is
// created, and a restore waits for it to complete before using it.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	input := &ec2.CreateSnapshotInput{
		VolumeId:    awssdk.String(volumeID),
		Description: awssdk.String("Ark snapshot of " + volumeID),
	}
	if ec2Tags := toEC2Tags(tags); len(ec2Tags) > 0 {
		input.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: ec2Tags}}
	}
	out, err := b.ec2.CreateSnapshot(ctx, input)
	if err != nil {
		return "", b.explain(err, "creating a snapshot of EBS volume %s", volumeID)
	}
	if out.SnapshotId == nil {
		return "", fmt.Errorf("creating a snapshot of EBS volume %s: EC2 returned no snapshot ID", volumeID)
	}
	return *out.SnapshotId, nil
}

// CreateVolumeFromSnapshot waits for the snapshot to complete, then creates a
// volume from it in zone with the snapshot's tags. With no zone (a CSI PV
// without zone labels) it uses the configured availabilityZone, else the
// zone of the snapshot's source volume.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	snap, err := b.waitForSnapshot(ctx, snapshotID)
	if err != nil {
		return "", err
	}
	if zone == "" {
		zone = b.defaultZone
	}
	if zone == "" {
		zone, err = b.sourceZone(ctx, snap)
		if err != nil {
			return "", err
		}
	}

	input := &ec2.CreateVolumeInput{
		SnapshotId:       awssdk.String(snapshotID),
		AvailabilityZone: awssdk.String(zone),
	}
	if volumeType != "" {
		input.VolumeType = types.VolumeType(volumeType)
	}
	if iops != nil && iopsVolumeTypes[volumeType] {
		v := int32(*iops)
		input.Iops = &v
	}
	var tags []types.Tag
	for _, t := range snap.Tags {
		// The aws: prefix is reserved; CreateVolume rejects it.
		if t.Key != nil && !strings.HasPrefix(*t.Key, "aws:") {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		input.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeVolume, Tags: tags}}
	}

	out, err := b.ec2.CreateVolume(ctx, input)
	if err != nil {
		return "", b.explain(err, "creating an EBS volume from snapshot %s in zone %s", snapshotID, zone)
	}
	if out.VolumeId == nil {
		return "", fmt.Errorf("creating an EBS volume from snapshot %s: EC2 returned no volume ID", snapshotID)
	}
	return *out.VolumeId, nil
}

// IsVolumeReady reports whether the volume is "available". A volume that EC2
// does not know yet counts as not ready, because DescribeVolumes is eventually
// consistent right after CreateVolume; the caller's timeout ends the wait.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	vol, err := b.describeVolume(ctx, volumeID)
	if errors.Is(err, snapshot.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch vol.State {
	case types.VolumeStateAvailable, types.VolumeStateInUse:
		return true, nil
	case types.VolumeStateCreating:
		return false, nil
	default:
		return false, fmt.Errorf("EBS volume %s is %q and will never become available: delete it and restore again", volumeID, vol.State)
	}
}

// DeleteSnapshot deletes the snapshot; one that is already gone is success.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	_, err := b.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: awssdk.String(snapshotID)})
	if err != nil {
		err = b.explain(err, "deleting EBS snapshot %s", snapshotID)
		if errors.Is(err, snapshot.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

func (b *BlockStore) describeVolume(ctx context.Context, volumeID string) (*types.Volume, error) {
	out, err := b.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{volumeID}})
	if err != nil {
		return nil, b.explain(err, "describing EBS volume %s", volumeID)
	}
	if len(out.Volumes) != 1 {
		return nil, fmt.Errorf("describing EBS volume %s: expected 1 volume, EC2 returned %d", volumeID, len(out.Volumes))
	}
	return &out.Volumes[0], nil
}

// waitForSnapshot polls until the snapshot is completed, because CreateVolume
// from a pending snapshot is refused.
func (b *BlockStore) waitForSnapshot(ctx context.Context, snapshotID string) (*types.Snapshot, error) {
	waiter := ec2.NewSnapshotCompletedWaiter(b.ec2, func(o *ec2.SnapshotCompletedWaiterOptions) {
		o.MinDelay = b.snapshotWaitMin
		o.MaxDelay = b.snapshotWaitMax
		o.Retryable = snapshotCompletedRetryable
	})
	// The context bounds the wait; the waiter insists on its own limit too.
	out, err := waiter.WaitForOutput(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{snapshotID}}, 24*time.Hour)
	if err != nil {
		var failed *snapshotFailedError
		if errors.As(err, &failed) {
			return nil, err
		}
		return nil, b.explain(err, "waiting for EBS snapshot %s to complete", snapshotID)
	}
	if len(out.Snapshots) != 1 {
		return nil, fmt.Errorf("describing EBS snapshot %s: expected 1 snapshot, EC2 returned %d", snapshotID, len(out.Snapshots))
	}
	return &out.Snapshots[0], nil
}

type snapshotFailedError struct {
	id, message string
}

func (e *snapshotFailedError) Error() string {
	return fmt.Sprintf("EBS snapshot %s is in state error (%s): it cannot be restored; use a backup from another time", e.id, e.message)
}

// snapshotCompletedRetryable is the SDK's SnapshotCompleted rule with an error
// that says which snapshot failed and why, instead of "waiter state
// transitioned to Failure".
func snapshotCompletedRetryable(ctx context.Context, in *ec2.DescribeSnapshotsInput, out *ec2.DescribeSnapshotsOutput, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	if len(out.Snapshots) == 0 {
		return true, nil
	}
	done := true
	for _, s := range out.Snapshots {
		switch s.State {
		case types.SnapshotStateError:
			return false, &snapshotFailedError{id: awssdk.ToString(s.SnapshotId), message: awssdk.ToString(s.StateMessage)}
		case types.SnapshotStateCompleted:
		default:
			done = false
		}
	}
	return !done, nil
}

func (b *BlockStore) sourceZone(ctx context.Context, snap *types.Snapshot) (string, error) {
	missingZone := fmt.Errorf("creating an EBS volume from snapshot %s: no availability zone given and the snapshot's source volume "+
		"is gone; label the PV with topology.kubernetes.io/zone (or failure-domain.beta.kubernetes.io/zone)", awssdk.ToString(snap.SnapshotId))
	if snap.VolumeId == nil {
		return "", missingZone
	}
	vol, err := b.describeVolume(ctx, *snap.VolumeId)
	if errors.Is(err, snapshot.ErrNotFound) || (err == nil && vol.AvailabilityZone == nil) {
		return "", missingZone
	}
	if err != nil {
		return "", err
	}
	return *vol.AvailabilityZone, nil
}

// toEC2Tags sorts the tags so requests are deterministic.
func toEC2Tags(tags map[string]string) []types.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])})
	}
	return out
}
