// Package azure snapshots Azure managed disks with armcompute/v7 and azidentity.
//
// Config keys (the Ark Config's persistentVolumeProvider.config):
//
//	location                 required; the Azure location of the disks, e.g. eastus
//	apiTimeout               optional Go duration bounding each create/delete (default 2m)
//	resourceManagerEndpoint  optional; another cloud's ARM endpoint (sovereign clouds, Azure Stack, tests)
//	activeDirectoryEndpoint  optional; that cloud's Microsoft Entra authority host
//
// Credentials and defaults come from environment variables, as in Heptio Ark:
// AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
// and AZURE_RESOURCE_GROUP, loaded from the cloud-credentials secret.
package azure

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/google/uuid"

	"github.com/heptio/ark/internal/snapshot"
)

// Config keys.
const (
	LocationKey                = "location"
	APITimeoutKey              = "apiTimeout"
	ResourceManagerEndpointKey = "resourceManagerEndpoint"
	ActiveDirectoryEndpointKey = "activeDirectoryEndpoint"
)

// Environment variables, named as in Heptio Ark's Azure setup.
const (
	SubscriptionIDEnv = "AZURE_SUBSCRIPTION_ID"
	TenantIDEnv       = "AZURE_TENANT_ID"
	ClientIDEnv       = "AZURE_CLIENT_ID"
	ClientSecretEnv   = "AZURE_CLIENT_SECRET"
	ResourceGroupEnv  = "AZURE_RESOURCE_GROUP"
)

const defaultAPITimeout = 2 * time.Minute

// provisionedIOPSTypes are the disk SKUs whose IOPS are set at creation.
var provisionedIOPSTypes = map[string]bool{"UltraSSD_LRS": true, "PremiumV2_LRS": true}

// BlockStore implements snapshot.BlockStore for Azure managed disks.
type BlockStore struct {
	cred          azcore.TokenCredential
	clientOptions *arm.ClientOptions
	subscription  string
	resourceGroup string // AZURE_RESOURCE_GROUP; may be empty when every ID is a full ARM ID
	location      string
	apiTimeout    time.Duration
	pollFrequency time.Duration

	mu        sync.Mutex
	disks     map[string]*armcompute.DisksClient
	snapshots map[string]*armcompute.SnapshotsClient
}

var _ snapshot.BlockStore = (*BlockStore)(nil)

// Keys are the config keys of the azure block store.
var Keys = providerconfig.Keys{
	Known:    []string{LocationKey, APITimeoutKey, ResourceManagerEndpointKey, ActiveDirectoryEndpointKey},
	Required: [][]string{{LocationKey}},
}

// New builds an Azure block store from the Ark config and the AZURE_*
// environment variables. It does not call Azure: a token failure surfaces on
// the first call, with the fix in the error.
func New(cfg map[string]string) (*BlockStore, error) {
	return newBlockStore(cfg, os.Getenv, nil)
}

// newBlockStore lets tests supply the environment and a transport that
// trusts their TLS server.
func newBlockStore(cfg map[string]string, getenv func(string) string, transport policy.Transporter) (*BlockStore, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("%w: azure block store: %w", snapshot.ErrInvalidConfig, err)
	}
	location := cfg[LocationKey]
	if location == "" {
		return nil, fmt.Errorf("%w: missing %q in the azure block store config: set persistentVolumeProvider.config.location "+
			"in the Ark Config to your cluster's location (the location shown by `az group list`)", snapshot.ErrInvalidConfig, LocationKey)
	}
	apiTimeout := defaultAPITimeout
	if v := cfg[APITimeoutKey]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%w: %s %q is not a positive duration such as 2m or 90s", snapshot.ErrInvalidConfig, APITimeoutKey, v)
		}
		apiTimeout = d
	}

	var missing []string
	env := map[string]string{}
	for _, name := range []string{SubscriptionIDEnv, TenantIDEnv, ClientIDEnv, ClientSecretEnv} {
		env[name] = getenv(name)
		if env[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: environment variable(s) %s not set, so Ark cannot get an Azure token "+
			"(the troubleshooting doc's \"Failed to refresh the Token\"). %s",
			snapshot.ErrCredentials, strings.Join(missing, ", "), credentialsFix)
	}

	cloudCfg := cloud.AzurePublic
	rm, aad := cfg[ResourceManagerEndpointKey], cfg[ActiveDirectoryEndpointKey]
	for key, endpoint := range map[string]string{ResourceManagerEndpointKey: rm, ActiveDirectoryEndpointKey: aad} {
		if endpoint != "" && !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
			return nil, fmt.Errorf("%w: %s %q must be a URL such as https://management.chinacloudapi.cn", snapshot.ErrInvalidConfig, key, endpoint)
		}
	}
	if rm != "" || aad != "" {
		cloudCfg = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: cloud.AzurePublic.Services[cloud.ResourceManager],
			},
		}
		if aad != "" {
			cloudCfg.ActiveDirectoryAuthorityHost = aad
		}
		if rm != "" {
			cloudCfg.Services[cloud.ResourceManager] = cloud.ServiceConfiguration{
				Endpoint: rm, Audience: cloud.AzurePublic.Services[cloud.ResourceManager].Audience,
			}
		}
	}
	clientOptions := policy.ClientOptions{Cloud: cloudCfg, Transport: transport}

	cred, err := azidentity.NewClientSecretCredential(env[TenantIDEnv], env[ClientIDEnv], env[ClientSecretEnv],
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions: clientOptions,
			// Instance discovery asks login.microsoftonline.com about the
			// authority, which is wrong for a configured one.
			DisableInstanceDiscovery: aad != "",
		})
	if err != nil {
		return nil, fmt.Errorf("%w: Failed to refresh the Token: %v. %s", snapshot.ErrCredentials, err, credentialsFix)
	}

	return &BlockStore{
		cred:          cred,
		clientOptions: &arm.ClientOptions{ClientOptions: clientOptions},
		subscription:  env[SubscriptionIDEnv],
		resourceGroup: getenv(ResourceGroupEnv),
		location:      location,
		apiTimeout:    apiTimeout,
		pollFrequency: 5 * time.Second,
		disks:         map[string]*armcompute.DisksClient{},
		snapshots:     map[string]*armcompute.SnapshotsClient{},
	}, nil
}

// GetVolumeInfo returns the disk's SKU (Premium_LRS, ...) and, for SKUs with
// provisioned IOPS, its IOPS.
func (b *BlockStore) GetVolumeInfo(ctx context.Context, volumeID, zone string) (string, *int64, error) {
	ref, err := b.parse(volumeID, "disks")
	if err != nil {
		return "", nil, err
	}
	disk, err := b.getDisk(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	var volumeType string
	if disk.SKU != nil && disk.SKU.Name != nil {
		volumeType = string(*disk.SKU.Name)
	}
	var iops *int64
	if provisionedIOPSTypes[volumeType] && disk.Properties != nil && disk.Properties.DiskIOPSReadWrite != nil {
		v := *disk.Properties.DiskIOPSReadWrite
		iops = &v
	}
	return volumeType, iops, nil
}

// CreateSnapshot copies the disk into a snapshot in the disk's own resource
// group, tagged with tags, and returns the snapshot's full ARM ID so that a
// server configured with another resource group can still find it.
func (b *BlockStore) CreateSnapshot(ctx context.Context, volumeID, zone string, tags map[string]string) (string, error) {
	disk, err := b.parse(volumeID, "disks")
	if err != nil {
		return "", err
	}
	snap := resourceRef{subscription: disk.subscription, resourceGroup: disk.resourceGroup, kind: "snapshots", name: resourceName(disk.name)}
	client, err := b.snapshotsClient(snap.subscription)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, b.apiTimeout)
	defer cancel()
	poller, err := client.BeginCreateOrUpdate(ctx, snap.resourceGroup, snap.name, armcompute.Snapshot{
		Location: &b.location,
		Tags:     toAzureTags(tags),
		Properties: &armcompute.SnapshotProperties{
			CreationData: &armcompute.CreationData{
				CreateOption:     ptr(armcompute.DiskCreateOptionCopy),
				SourceResourceID: ptr(disk.String()),
			},
		},
	}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.pollFrequency})
	}
	if err != nil {
		return "", b.explain(err, "creating snapshot %s of disk %s", snap.name, disk)
	}
	return snap.String(), nil
}

// CreateVolumeFromSnapshot copies the snapshot into a new disk named
// restore-<uuid> in AZURE_RESOURCE_GROUP (or, when that is unset, the
// snapshot's resource group) and returns the disk's full ARM ID.
func (b *BlockStore) CreateVolumeFromSnapshot(ctx context.Context, snapshotID, volumeType, zone string, iops *int64) (string, error) {
	snap, err := b.parse(snapshotID, "snapshots")
	if err != nil {
		return "", err
	}
	target := resourceRef{subscription: b.subscription, resourceGroup: b.resourceGroup, kind: "disks", name: "restore-" + uuid.NewString()}
	if target.resourceGroup == "" {
		target.resourceGroup = snap.resourceGroup
	}
	disk := armcompute.Disk{
		Location: &b.location,
		Properties: &armcompute.DiskProperties{
			CreationData: &armcompute.CreationData{
				CreateOption:     ptr(armcompute.DiskCreateOptionCopy),
				SourceResourceID: ptr(snap.String()),
			},
		},
	}
	if volumeType != "" {
		disk.SKU = &armcompute.DiskSKU{Name: ptr(armcompute.DiskStorageAccountTypes(volumeType))}
	}
	if iops != nil && provisionedIOPSTypes[volumeType] {
		disk.Properties.DiskIOPSReadWrite = iops
	}
	if z := logicalZone(zone); z != "" {
		disk.Zones = []*string{&z}
	}

	ctx, cancel := context.WithTimeout(ctx, b.apiTimeout)
	defer cancel()
	snapClient, err := b.snapshotsClient(snap.subscription)
	if err != nil {
		return "", err
	}
	// Carry the snapshot's tags over, as the other providers do.
	existing, err := snapClient.Get(ctx, snap.resourceGroup, snap.name, nil)
	if err != nil {
		return "", b.explain(err, "reading snapshot %s", snap)
	}
	disk.Tags = existing.Tags

	client, err := b.disksClient(target.subscription)
	if err != nil {
		return "", err
	}
	poller, err := client.BeginCreateOrUpdate(ctx, target.resourceGroup, target.name, disk, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.pollFrequency})
	}
	if err != nil {
		return "", b.explain(err, "creating disk %s from snapshot %s", target, snap)
	}
	return target.String(), nil
}

// IsVolumeReady reports whether the disk's provisioningState is Succeeded.
func (b *BlockStore) IsVolumeReady(ctx context.Context, volumeID, zone string) (bool, error) {
	ref, err := b.parse(volumeID, "disks")
	if err != nil {
		return false, err
	}
	disk, err := b.getDisk(ctx, ref)
	if err != nil {
		return false, err
	}
	if disk.Properties == nil || disk.Properties.ProvisioningState == nil {
		return false, nil
	}
	switch state := *disk.Properties.ProvisioningState; state {
	case "Succeeded":
		return true, nil
	case "Failed", "Canceled":
		return false, fmt.Errorf("disk %s is %s and will never be ready: delete it and restore again", ref, state)
	default:
		return false, nil
	}
}

// DeleteSnapshot deletes the snapshot; a missing one (204 or 404) is success.
func (b *BlockStore) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	snap, err := b.parse(snapshotID, "snapshots")
	if err != nil {
		return err
	}
	client, err := b.snapshotsClient(snap.subscription)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.apiTimeout)
	defer cancel()
	poller, err := client.BeginDelete(ctx, snap.resourceGroup, snap.name, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: b.pollFrequency})
	}
	if err != nil {
		err = b.explain(err, "deleting snapshot %s", snap)
		if errors.Is(err, snapshot.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

func (b *BlockStore) getDisk(ctx context.Context, ref resourceRef) (*armcompute.Disk, error) {
	client, err := b.disksClient(ref.subscription)
	if err != nil {
		return nil, err
	}
	resp, err := client.Get(ctx, ref.resourceGroup, ref.name, nil)
	if err != nil {
		return nil, b.explain(err, "reading disk %s", ref)
	}
	return &resp.Disk, nil
}

// Clients are per subscription because IDs from a PV may name another
// subscription than AZURE_SUBSCRIPTION_ID; they share one credential, so one
// token cache.
func (b *BlockStore) disksClient(subscription string) (*armcompute.DisksClient, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.disks[subscription]; ok {
		return c, nil
	}
	c, err := armcompute.NewDisksClient(subscription, b.cred, b.clientOptions)
	if err != nil {
		return nil, fmt.Errorf("creating the Azure disks client: %w", err)
	}
	b.disks[subscription] = c
	return c, nil
}

func (b *BlockStore) snapshotsClient(subscription string) (*armcompute.SnapshotsClient, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.snapshots[subscription]; ok {
		return c, nil
	}
	c, err := armcompute.NewSnapshotsClient(subscription, b.cred, b.clientOptions)
	if err != nil {
		return nil, fmt.Errorf("creating the Azure snapshots client: %w", err)
	}
	b.snapshots[subscription] = c
	return c, nil
}

func ptr[T any](v T) *T { return &v }
