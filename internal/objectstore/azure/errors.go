package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/unreachable"
	"github.com/heptio/ark/internal/redact"
)

// credentialsFix is the troubleshooting doc's checklist for "Failed to
// refresh the Token": Azure credentials reach Ark as environment variables
// from the cloud-credentials secret, not as a mounted file.
const credentialsFix = "fix: the secret cloud-credentials must exist in the Ark server's namespace (heptio-ark by default) " +
	"with all of the expected keys, each with the correct value: AZURE_STORAGE_ACCOUNT_ID and AZURE_STORAGE_KEY " +
	"(from `az storage account keys list`), plus AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_CLIENT_ID, " +
	"AZURE_CLIENT_SECRET and AZURE_RESOURCE_GROUP for snapshots; and the Ark deployment must load the secret as " +
	"environment variables (envFrom: secretRef: cloud-credentials, as in examples/azure/)"

// tokenError marks a failure to obtain an Entra ID token, which azcore would
// otherwise report with no hint of where the credentials come from.
type tokenError struct{ cause error }

func (e *tokenError) Error() string {
	return fmt.Sprintf("Failed to refresh the Token: Azure did not issue Ark a token (%v); %s", e.cause, credentialsFix)
}

func (e *tokenError) Unwrap() []error { return []error{objectstore.ErrAccessDenied, e.cause} }

// explainingToken wraps the identity credential so its failures carry the fix.
type explainingToken struct{ inner azcore.TokenCredential }

func (t explainingToken) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := t.inner.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		return tok, &tokenError{cause: err}
	}
	return tok, err
}

// mapError turns an azblob error into one that wraps the objectstore
// sentinel and says what to change. A nil err stays nil.
func (s *Store) mapError(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	// Transport errors quote the request URL, which holds the SAS when
	// the credentials are a SAS connection string.
	err = redact.Error(err)
	where := fmt.Sprintf("azure://%s/%s/%s", s.account, bucket, key)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	var tokErr *tokenError
	if errors.As(err, &tokErr) {
		return fmt.Errorf("%s %s: %w", op, where, tokErr)
	}
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound, bloberror.ContainerBeingDeleted):
		return fmt.Errorf("%w: Azure blob container %q does not exist in storage account %q (%s %s): create it (az storage container create --name %s --account-name %s) or fix backupStorageProvider.bucket in the Ark Config: %w",
			objectstore.ErrBucketNotFound, bucket, s.account, op, where, bucket, s.account, err)
	case bloberror.HasCode(err, bloberror.BlobImmutableDueToPolicy, "BlobImmutableDueToLegalHold"):
		return fmt.Errorf("%w: Azure refused to %s %s: it is immutable (an immutability policy or legal hold): %w", objectstore.ErrRetained, op, where, err)
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return fmt.Errorf("%w: %s: %w", objectstore.ErrNotFound, where, err)
	case bloberror.HasCode(err, bloberror.AuthenticationFailed, bloberror.AuthorizationFailure,
		bloberror.AuthorizationPermissionMismatch, bloberror.InvalidAuthenticationInfo,
		bloberror.InsufficientAccountPermissions, bloberror.AccountIsDisabled):
		return fmt.Errorf("%w: Azure refused to %s %s: the storage account name or key is wrong or lacks access; %s: %w",
			objectstore.ErrAccessDenied, op, where, credentialsFix, err)
	}
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s: %w", objectstore.ErrNotFound, where, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: Azure refused to %s %s (HTTP %d); %s: %w",
				objectstore.ErrAccessDenied, op, where, respErr.StatusCode, credentialsFix, err)
		}
	}
	if endpoint, ok := unreachable.Endpoint(err); ok {
		return fmt.Errorf("%w: cannot reach the Azure blob endpoint %s to %s %s: check that it is up and that %s (config) / %s / the storage account name %s=%q are right: %w",
			objectstore.ErrUnreachable, endpoint, op, where, ConfigStorageEndpoint, EnvEndpoint, EnvAccount, s.account, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}
