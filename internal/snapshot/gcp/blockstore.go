// Package gcp snapshots GCE persistent disks with google.golang.org/api/compute/v1.
//
// Config keys (the Ark Config's persistentVolumeProvider.config):
//
//	project     required; the GCP project of the cluster's disks and of restored disks
//	computeUrl  optional; a Compute API base URL such as http://127.0.0.1:8080/compute/v1/
//	            (tests, private endpoints)
//	zone        optional; the zone of disks whose PV has no zone label (the
//	            <YOUR_ZONE> of Heptio Ark's examples/gcp/00-ark-config.yaml):
//	            in-tree PVs are looked up there and restored there. Without
//	            it, such PVs need a zone label, and restores use the zone of
//	            the snapshot's source disk.
//
// Credentials are Google's application default credentials: in the Ark
// deployment GOOGLE_APPLICATION_CREDENTIALS=/credentials/cloud, the service
// account key from the cloud-credentials secret.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"github.com/google/uuid"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/heptio/ark/internal/snapshot"
)

// Config keys.
const (
	ProjectKey    = "project"
	ComputeURLKey = "computeUrl"
	ZoneKey       = "zone"
)

// BlockStore implements snapshot.BlockStore for GCE persistent disks.
type BlockStore struct {
	gce     *compute.Service
	project string
	// defaultZone stands in for the zone of PVs without a zone label.
	defaultZone string

	// backoff and maxAttempts govern retries of throttled or failed calls;
	// tests shorten the backoff.
	backoff     gax.Backoff
	maxAttempts int
}

var _ snapshot.BlockStore = (*BlockStore)(nil)

// New builds a GCE block store from the Ark config, loading credentials from
// GOOGLE_APPLICATION_CREDENTIALS (or the other application default sources).
func New(cfg map[string]string) (*BlockStore, error) {
	return newBlockStore(context.Background(), cfg)
}

// Keys are the config keys of the gcp block store.
var Keys = providerconfig.Keys{Known: []string{ProjectKey, ComputeURLKey, ZoneKey}, Required: [][]string{{ProjectKey}}}

func newBlockStore(ctx context.Context, cfg map[string]string, extra ...option.ClientOption) (*BlockStore, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("%w: gcp block store: %w", snapshot.ErrInvalidConfig, err)
	}
	project := cfg[ProjectKey]
	if project == "" {
		return nil, fmt.Errorf("%w: missing %q in the gcp block store config: set persistentVolumeProvider.config.project "+
			"in the Ark Config to the GCP project of your disks", snapshot.ErrInvalidConfig, ProjectKey)
	}

	opts := []option.ClientOption{option.WithScopes(compute.ComputeScope)}
	if endpoint := cfg[ComputeURLKey]; endpoint != "" {
		if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
			return nil, fmt.Errorf("%w: %s %q must be a URL starting with http:// or https://",
				snapshot.ErrInvalidConfig, ComputeURLKey, endpoint)
		}
		if !strings.HasSuffix(endpoint, "/") {
			endpoint += "/"
		}
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	opts = append(opts, extra...)

	gce, err := compute.NewService(ctx, opts...)
	if err != nil {
		return nil, credentialsError(err)
	}
	return &BlockStore{
		gce:         gce,
		project:     project,
		defaultZone: cfg[ZoneKey],
		backoff:     gax.Backoff{Initial: time.Second, Max: 32 * time.Second, Multiplier: 2},
		maxAttempts: 6,
	}, nil
}

// GetVolumeInfo returns the disk type's short name (pd-ssd, not its URL, so
// a restore can use it in another zone) and its provisioned IOPS if any.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, zone string) (string, *int64, error) {
	d, err := parseDiskID(volumeID, b.zoneOr(zone), b.project)
	if err != nil {
		return "", nil, err
	}
	disk, err := b.getDisk(ctx, d)
	if err != nil {
		return "", nil, err
	}
	var iops *int64
	if disk.ProvisionedIops > 0 {
		v := disk.ProvisionedIops
		iops = &v
	}
	return lastSegment(disk.Type), iops, nil
}

// CreateSnapshot snapshots the disk, labelled with tags (sanitised to GCE's
// label rules), and waits for the zonal operation to finish.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	d, err := parseDiskID(volumeID, b.zoneOr(zone), b.project)
	if err != nil {
		return "", err
	}
	snap := &compute.Snapshot{
		Name:        snapshotName(d.name),
		Description: "Ark snapshot of " + d.String(),
		Labels:      sanitizeLabels(tags),
	}
	requestID := uuid.NewString()
	var op *compute.Operation
	err = b.call(ctx, func(ctx context.Context) (err error) {
		// The same requestId on a retry makes GCE ignore a duplicate.
		op, err = b.gce.Disks.CreateSnapshot(d.project, d.zone, d.name, snap).RequestId(requestID).Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", b.explain(err, "creating snapshot %s of disk %s", snap.Name, d)
	}
	if err := b.waitZoneOperation(ctx, d.project, d.zone, op); err != nil {
		return "", b.explain(err, "creating snapshot %s of disk %s", snap.Name, d)
	}
	return snapshotID{project: d.project, name: snap.Name}.format(b.project), nil
}

// CreateVolumeFromSnapshot creates a disk named restore-<uuid> in the
// configured project from the snapshot, with the snapshot's labels, and
// waits for the insert to finish. With no zone (a CSI PV without zone labels)
// it uses the configured zone, else the zone of the snapshot's source disk.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	s, err := parseSnapshotID(snapshotID, b.project)
	if err != nil {
		return "", err
	}
	var snap *compute.Snapshot
	err = b.call(ctx, func(ctx context.Context) (err error) {
		snap, err = b.gce.Snapshots.Get(s.project, s.name).Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", b.explain(err, "reading snapshot %s", s.name)
	}
	if snap.Status == "FAILED" || snap.Status == "DELETING" {
		return "", fmt.Errorf("snapshot %s is %s and cannot be restored; use a backup from another time", s.name, snap.Status)
	}
	if zone == "" {
		zone = b.defaultZone
	}
	if zone == "" {
		zone = zoneOf(snap.SourceDisk)
	}
	if zone == "" {
		return "", fmt.Errorf("creating a disk from snapshot %s: no zone given and the snapshot does not name its source disk's zone; "+
			"label the PV with topology.kubernetes.io/zone (or failure-domain.beta.kubernetes.io/zone)", s.name)
	}
	if strings.Contains(zone, "__") {
		return "", regionalUnsupported(zone)
	}

	disk := &compute.Disk{
		Name:           "restore-" + uuid.NewString(),
		SourceSnapshot: snap.SelfLink,
		Labels:         snap.Labels,
	}
	if disk.SourceSnapshot == "" {
		disk.SourceSnapshot = "projects/" + s.project + "/global/snapshots/" + s.name
	}
	if volumeType != "" {
		disk.Type = diskTypeURL(b.project, zone, volumeType)
	}
	if iops != nil {
		disk.ProvisionedIops = *iops
	}
	requestID := uuid.NewString()
	var op *compute.Operation
	err = b.call(ctx, func(ctx context.Context) (err error) {
		op, err = b.gce.Disks.Insert(b.project, zone, disk).RequestId(requestID).Context(ctx).Do()
		return err
	})
	if err != nil {
		return "", b.explain(err, "creating disk %s from snapshot %s", disk.Name, s.name)
	}
	if err := b.waitZoneOperation(ctx, b.project, zone, op); err != nil {
		return "", b.explain(err, "creating disk %s from snapshot %s", disk.Name, s.name)
	}
	return diskID{project: b.project, zone: zone, name: disk.Name}.String(), nil
}

// IsVolumeReady reports whether the disk's status is READY.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	d, err := parseDiskID(volumeID, b.zoneOr(zone), b.project)
	if err != nil {
		return false, err
	}
	disk, err := b.getDisk(ctx, d)
	if err != nil {
		return false, err
	}
	switch disk.Status {
	case "READY":
		return true, nil
	case "FAILED":
		return false, fmt.Errorf("disk %s is FAILED and will never become ready: delete it and restore again", d)
	default: // CREATING, RESTORING
		return false, nil
	}
}

// DeleteSnapshot deletes the snapshot and waits for the global operation.
// A snapshot that is already gone is success.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	s, err := parseSnapshotID(snapshotID, b.project)
	if err != nil {
		return err
	}
	requestID := uuid.NewString()
	var op *compute.Operation
	err = b.call(ctx, func(ctx context.Context) (err error) {
		op, err = b.gce.Snapshots.Delete(s.project, s.name).RequestId(requestID).Context(ctx).Do()
		return err
	})
	if err == nil {
		err = b.waitGlobalOperation(ctx, s.project, op)
	}
	if err != nil {
		err = b.explain(err, "deleting snapshot %s", s.name)
		if errors.Is(err, snapshot.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

func (b *BlockStore) getDisk(ctx context.Context, d diskID) (*compute.Disk, error) {
	var disk *compute.Disk
	err := b.call(ctx, func(ctx context.Context) (err error) {
		disk, err = b.gce.Disks.Get(d.project, d.zone, d.name).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, b.explain(err, "reading disk %s", d)
	}
	return disk, nil
}

// waitZoneOperation blocks on operations.wait until op is DONE. The wait
// call itself returns after at most two minutes even when op is not done.
func (b *BlockStore) waitZoneOperation(ctx context.Context, project, zone string, op *compute.Operation) error {
	return b.waitOperation(ctx, op, func(ctx context.Context, name string) (*compute.Operation, error) {
		return b.gce.ZoneOperations.Wait(project, zone, name).Context(ctx).Do()
	})
}

func (b *BlockStore) waitGlobalOperation(ctx context.Context, project string, op *compute.Operation) error {
	return b.waitOperation(ctx, op, func(ctx context.Context, name string) (*compute.Operation, error) {
		return b.gce.GlobalOperations.Wait(project, name).Context(ctx).Do()
	})
}

func (b *BlockStore) waitOperation(ctx context.Context, op *compute.Operation,
	wait func(ctx context.Context, name string) (*compute.Operation, error)) error {
	for op.Status != "DONE" {
		name := op.Name
		err := b.call(ctx, func(ctx context.Context) (err error) {
			op, err = wait(ctx, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("waiting for operation %s: %w", name, err)
		}
	}
	if op.Error != nil && len(op.Error.Errors) > 0 {
		return &operationError{op: op}
	}
	return nil
}

// operationError is a GCE operation that finished with errors.
type operationError struct {
	op *compute.Operation
}

func (e *operationError) Error() string {
	msgs := make([]string, 0, len(e.op.Error.Errors))
	for _, oe := range e.op.Error.Errors {
		msgs = append(msgs, oe.Code+": "+oe.Message)
	}
	return fmt.Sprintf("operation %s (%s) failed: %s", e.op.Name, e.op.OperationType, strings.Join(msgs, "; "))
}

func (e *operationError) code() string { return e.op.Error.Errors[0].Code }

// call runs fn, retrying throttling and transient server errors with
// exponential backoff; google.golang.org/api's compute client does not retry.
func (b *BlockStore) call(ctx context.Context, fn func(context.Context) error) error {
	r := &retryer{backoff: b.backoff, maxAttempts: b.maxAttempts}
	return gax.Invoke(ctx, func(ctx context.Context, _ gax.CallSettings) error { return fn(ctx) },
		gax.WithRetry(func() gax.Retryer { return r }))
}

type retryer struct {
	backoff     gax.Backoff
	attempts    int
	maxAttempts int
}

func (r *retryer) Retry(err error) (time.Duration, bool) {
	r.attempts++
	if r.attempts >= r.maxAttempts || !retryable(err) {
		return 0, false
	}
	return r.backoff.Pause(), true
}

func retryable(err error) bool {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return false
	}
	switch gerr.Code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusForbidden:
		// GCE reports some per-user rate limits as 403.
		return isRateLimit(gerr)
	}
	return false
}

func isRateLimit(gerr *googleapi.Error) bool {
	for _, item := range gerr.Errors {
		if item.Reason == "rateLimitExceeded" || item.Reason == "userRateLimitExceeded" {
			return true
		}
	}
	return gerr.Code == http.StatusTooManyRequests
}

// zoneOr is zone, or the configured zone when the PV gave none.
func (b *BlockStore) zoneOr(zone string) string {
	if zone == "" {
		return b.defaultZone
	}
	return zone
}
