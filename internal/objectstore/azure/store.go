// Package azure is Ark's object store on Azure Blob Storage, built on azblob.
// The Ark Config's bucket is the blob container.
package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/redact"
)

// Environment variables, as the cloud-credentials secret of the Ark docs
// provides them (examples/azure loads the secret with envFrom).
const (
	EnvAccount          = "AZURE_STORAGE_ACCOUNT_ID"
	EnvKey              = "AZURE_STORAGE_KEY"
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	// EnvEndpoint overrides the blob service URL, e.g. Azurite's
	// http://127.0.0.1:10000/devstoreaccount1/.
	EnvEndpoint = "AZURE_STORAGE_ENDPOINT"
)

// ConfigStorageEndpoint is the backupStorageProvider.config key that
// overrides the blob service URL; it wins over AZURE_STORAGE_ENDPOINT.
const ConfigStorageEndpoint = "storageEndpoint"

const (
	// Each in-flight block is a buffer: BlockSize x Concurrency bytes per
	// upload. The SDK's default concurrency (at least 8) would hold 64 MiB.
	uploadBlockSize   = 8 << 20
	uploadConcurrency = 3
	// Pages of 1,000 entries, as S3 and GCS return, instead of Azure's
	// 5,000: each response stays small, and the conformance suite crosses a
	// page boundary with 1,010 blobs instead of 5,010.
	listPageSize  int32 = 1000
	maxRetries          = 3
	retryDelay          = 200 * time.Millisecond
	maxRetryDelay       = 2 * time.Second
)

// Store implements objectstore.ObjectStore on Azure Blob Storage.
type Store struct {
	client  *azblob.Client
	account string
	// sharedKey is false for token (Entra ID) credentials: SAS URLs are
	// then user-delegation SAS.
	sharedKey bool
}

var _ objectstore.ObjectStore = (*Store)(nil)

// New builds a Store. Credentials, in order: AZURE_STORAGE_CONNECTION_STRING;
// AZURE_STORAGE_ACCOUNT_ID with AZURE_STORAGE_KEY; AZURE_STORAGE_ACCOUNT_ID
// alone with azidentity's DefaultAzureCredential (service principal env
// vars AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID, workload
// identity, then managed identity).
// Keys are the config keys of the azure object store.
var Keys = providerconfig.Keys{
	Known: []string{ConfigStorageEndpoint},
	Hint:  "the account comes from the " + EnvAccount + " and " + EnvKey + " environment variables",
}

func New(cfg map[string]string) (*Store, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return nil, fmt.Errorf("azure object store: %w in backupStorageProvider.config", err)
	}
	endpoint := cfg[ConfigStorageEndpoint]
	if endpoint == "" {
		endpoint = os.Getenv(EnvEndpoint)
	}
	if endpoint != "" && !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		// The value is not echoed: from the environment, it may be a
		// connection string (with its key) set in the wrong variable.
		return nil, fmt.Errorf("azure object store: the blob endpoint (config %s or $%s) is not a URL: write the blob service URL with its scheme, for example http://127.0.0.1:10000/devstoreaccount1/", ConfigStorageEndpoint, EnvEndpoint)
	}
	if endpoint != "" && !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}

	opts := &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		// The default retry backs off up to 60 s between tries; a dead
		// endpoint should fail in seconds.
		Retry: policy.RetryOptions{MaxRetries: maxRetries, RetryDelay: retryDelay, MaxRetryDelay: maxRetryDelay},
	}}

	if cs := os.Getenv(EnvConnectionString); cs != "" {
		if endpoint != "" {
			return nil, fmt.Errorf("azure object store: both %s and a blob endpoint (config %s or $%s) are set: put the endpoint in the connection string as BlobEndpoint=... and drop the other", EnvConnectionString, ConfigStorageEndpoint, EnvEndpoint)
		}
		client, err := azblob.NewClientFromConnectionString(cs, opts)
		if err != nil {
			return nil, fmt.Errorf("azure object store: %s is not a valid connection string (%v): copy it from `az storage account show-connection-string`, or use %s and %s instead; %s", EnvConnectionString, err, EnvAccount, EnvKey, credentialsFix)
		}
		account := accountFromConnectionString(cs)
		return &Store{client: client, account: account, sharedKey: strings.Contains(cs, "AccountKey=")}, nil
	}

	account := os.Getenv(EnvAccount)
	if account == "" {
		return nil, fmt.Errorf("azure object store: %s is not set, so Ark does not know which storage account holds the container: %s", EnvAccount, credentialsFix)
	}
	if endpoint == "" {
		endpoint = fmt.Sprintf("https://%s.blob.core.windows.net/", account)
	}

	if key := os.Getenv(EnvKey); key != "" {
		cred, err := azblob.NewSharedKeyCredential(account, key)
		if err != nil {
			return nil, fmt.Errorf("azure object store: %s is not a valid storage account key (%v): set it to one of the values from `az storage account keys list`; %s", EnvKey, err, credentialsFix)
		}
		client, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, opts)
		if err != nil {
			return nil, fmt.Errorf("azure object store: blob endpoint %s: %w", endpoint, err)
		}
		return &Store{client: client, account: account, sharedKey: true}, nil
	}

	// Token requests get the same bounded retries as blob requests; the
	// default would keep the first backup waiting on a bad secret for long.
	// An authority set through AZURE_AUTHORITY_HOST (Azure Stack, a private
	// cloud) is one the operator chose and trusts: skip the instance
	// metadata lookup on login.microsoftonline.com, which it may not reach.
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Retry: opts.Retry},
		DisableInstanceDiscovery: os.Getenv("AZURE_AUTHORITY_HOST") != "",
	})
	if err != nil {
		return nil, fmt.Errorf("azure object store: %s is not set and no Azure identity is configured (%v): %s", EnvKey, err, credentialsFix)
	}
	// Token credentials over plain http are refused by the SDK unless
	// allowed; only an explicit local endpoint (an emulator) is plain http.
	opts.InsecureAllowCredentialWithHTTP = strings.HasPrefix(endpoint, "http://")
	client, err := azblob.NewClient(endpoint, explainingToken{inner: cred}, opts)
	if err != nil {
		return nil, fmt.Errorf("azure object store: blob endpoint %s: %w", endpoint, err)
	}
	return &Store{client: client, account: account}, nil
}

func accountFromConnectionString(cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, "AccountName") {
			return v
		}
	}
	return ""
}

// PutObject streams body as staged blocks, committed once body ends. If
// body fails, the block list is never committed and no blob appears.
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	_, err := s.client.UploadStream(ctx, bucket, key, body, &azblob.UploadStreamOptions{
		BlockSize:   uploadBlockSize,
		Concurrency: uploadConcurrency,
	})
	return s.mapError("put", bucket, key, err)
}

// GetObject opens key for reading; the SDK retries a broken body stream.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	resp, err := s.client.DownloadStream(ctx, bucket, key, nil)
	if err != nil {
		return nil, s.mapError("get", bucket, key, err)
	}
	return resp.Body, nil
}

// ListCommonPrefixes returns the virtual directories under prefix.
func (s *Store) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	pager := s.client.ServiceClient().NewContainerClient(bucket).
		NewListBlobsHierarchyPager(delimiter, &container.ListBlobsHierarchyOptions{Prefix: &prefix, MaxResults: to(listPageSize)})
	var out []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.mapError("list", bucket, prefix, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, p := range page.Segment.BlobPrefixes {
			if p.Name != nil {
				out = append(out, *p.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListObjects returns every blob name under prefix, page by page.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	pager := s.client.NewListBlobsFlatPager(bucket, &azblob.ListBlobsFlatOptions{Prefix: &prefix, MaxResults: to(listPageSize)})
	var out []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.mapError("list", bucket, prefix, err)
		}
		if page.Segment == nil {
			continue
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil {
				out = append(out, *b.Name)
			}
		}
	}
	return out, nil
}

// DeleteObject removes key; a missing blob is not an error.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	_, err := s.client.DeleteBlob(ctx, bucket, key, nil)
	if err = s.mapError("delete", bucket, key, err); errors.Is(err, objectstore.ErrNotFound) {
		return nil
	}
	return err
}

// ObjectRetention reads the blob's immutability policy (version-level
// immutable storage) and legal hold from its properties. A container-level
// time-based policy shows only when a deletion is refused (ErrRetained).
func (s *Store) ObjectRetention(ctx context.Context, bucket, key string) (objectstore.Retention, error) {
	props, err := s.client.ServiceClient().NewContainerClient(bucket).NewBlobClient(key).GetProperties(ctx, nil)
	if err != nil {
		return objectstore.Retention{}, s.mapError("read the retention of", bucket, key, err)
	}
	r := objectstore.Retention{Hold: props.LegalHold != nil && *props.LegalHold}
	if props.ImmutabilityPolicyExpiresOn != nil {
		r.Until = *props.ImmutabilityPolicyExpiresOn
		if props.ImmutabilityPolicyMode != nil {
			r.Mode = string(*props.ImmutabilityPolicyMode)
		}
	}
	return r, nil
}

// CreateSignedURL returns a read-only SAS URL valid for ttl: a service SAS
// signed with the account key, or a user-delegation SAS when Ark runs with an
// Entra ID identity (which then needs permission to get a delegation key).
func (s *Store) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	blobClient := s.client.ServiceClient().NewContainerClient(bucket).NewBlobClient(key)
	// Start a little in the past: the storage service rejects a SAS whose
	// start is ahead of its own clock.
	start := time.Now().UTC().Add(-5 * time.Minute)
	expiry := time.Now().UTC().Add(ttl)
	perms := sas.BlobPermissions{Read: true}
	if s.sharedKey {
		u, err := blobClient.GetSASURL(perms, expiry, &blob.GetSASURLOptions{StartTime: &start})
		if err != nil {
			return "", fmt.Errorf("sign azure://%s/%s: %w", bucket, key, redact.Error(err))
		}
		return u, nil
	}
	udc, err := s.client.ServiceClient().GetUserDelegationCredential(ctx, service.KeyInfo{
		Start:  to(start.Format(sas.TimeFormat)),
		Expiry: to(expiry.Format(sas.TimeFormat)),
	}, nil)
	if err != nil {
		return "", s.mapError("sign", bucket, key, err)
	}
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPS,
		StartTime:     start,
		ExpiryTime:    expiry,
		Permissions:   perms.String(),
		ContainerName: bucket,
		BlobName:      key,
	}.SignWithUserDelegation(udc)
	if err != nil {
		return "", fmt.Errorf("sign azure://%s/%s: %w", bucket, key, err)
	}
	return blobClient.URL() + "?" + qp.Encode(), nil
}

func to[T any](v T) *T { return &v }
