package azure

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/heptio/ark/internal/redact"
	"github.com/heptio/ark/internal/snapshot"
)

// credentialsFix is the troubleshooting doc's advice for "Failed to refresh
// the Token".
const credentialsFix = "This means that the secrets containing the Azure service principal credentials for Ark have not been " +
	"created/mounted properly into the Ark server pod. Ensure that: the cloud-credentials secret exists in the Ark server's " +
	"namespace (heptio-ark); it has all of the expected keys (AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_RESOURCE_GROUP, " +
	"AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_STORAGE_ACCOUNT_ID, AZURE_STORAGE_KEY) and each one has the correct value " +
	"(see the Azure setup instructions); and the Ark deployment loads the secret's keys as environment variables " +
	"(examples/azure/ uses envFrom: secretRef: cloud-credentials)"

// explain wraps an ARM error with what Ark was doing and, for the errors a
// user can act on, what to do about it.
func (b *BlockStore) explain(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	// The SDK's errors may quote request URLs and token responses.
	err = redact.Error(err)

	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return fmt.Errorf("%s: %w: Failed to refresh the Token: %v\n%s", what, snapshot.ErrCredentials, err, credentialsFix)
	}

	var respErr *azcore.ResponseError
	if !errors.As(err, &respErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case respErr.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w (%s); check the resource group, AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP: %w",
			what, snapshot.ErrNotFound, respErr.ErrorCode, err)
	case respErr.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: Azure Resource Manager kept throttling the requests (429 %s) after the SDK's retries; "+
			"retry later, other clients in the subscription are using up its request limit: %w", what, respErr.ErrorCode, err)
	case respErr.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w: Azure rejected the token (%s).\n%s", what, snapshot.ErrCredentials, respErr.ErrorCode, credentialsFix)
	case respErr.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %w: permission denied (%s); the Ark service principal needs the Contributor role "+
			"(az ad sp create-for-rbac --role=\"Contributor\" --name=\"heptio-ark\"): %w", what, snapshot.ErrCredentials, respErr.ErrorCode, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
