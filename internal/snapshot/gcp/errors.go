package gcp

import (
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/auth"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/heptio/ark/internal/redact"
	"github.com/heptio/ark/internal/snapshot"
)

// credentialsFix is the troubleshooting doc's advice for
// "open credentials/cloud: no such file or directory".
const credentialsFix = "This means that the secret containing the GCE service account credentials for Ark has not been " +
	"created/mounted properly into the Ark server pod. Ensure that: the cloud-credentials secret exists in the Ark server's " +
	"namespace (heptio-ark); it has a single key, cloud, whose value is the contents of the credentials-ark file (the key " +
	"created with `gcloud iam service-accounts keys create credentials-ark`); the secret is defined as a volume of the Ark " +
	"deployment and mounted into the Ark server pod at /credentials; and GOOGLE_APPLICATION_CREDENTIALS is /credentials/cloud"

const permissionsFix = "give the Ark service account the roles/compute.storageAdmin role on the project " +
	"(gcloud projects add-iam-policy-binding $PROJECT_ID --member serviceAccount:$SERVICE_ACCOUNT_EMAIL --role roles/compute.storageAdmin)"

// credentialsError explains a failure to load credentials, keeping the
// original message (for a missing file: "open <path>: no such file or
// directory").
func credentialsError(err error) error {
	return fmt.Errorf("%w: loading GCP credentials: %w. %s", snapshot.ErrCredentials, err, credentialsFix)
}

// explain wraps a Compute API error with what Ark was doing and, for the
// errors a user can act on, what to do about it.
func (b *BlockStore) explain(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	// The SDK's errors may quote request URLs and token responses.
	err = redact.Error(err)

	var authErr *auth.Error
	var oauthErr *oauth2.RetrieveError
	if errors.As(err, &authErr) || errors.As(err, &oauthErr) {
		return fmt.Errorf("%s: %w", what, credentialsError(err))
	}

	var opErr *operationError
	if errors.As(err, &opErr) && opErr.code() == "RESOURCE_NOT_FOUND" {
		return fmt.Errorf("%s: %w (%w); check that project %q in the Ark Config and the zone are right", what, snapshot.ErrNotFound, err, b.project)
	}

	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case gerr.Code == http.StatusNotFound:
		return fmt.Errorf("%s: %w (%w); check that project %q in the Ark Config and the zone are right", what, snapshot.ErrNotFound, err, b.project)
	case isRateLimit(gerr):
		return fmt.Errorf("%s: the Compute API kept throttling the requests (rateLimitExceeded) after %d attempts; retry later "+
			"or raise the project's Compute API quota: %w", what, b.maxAttempts, err)
	case gerr.Code == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w: the Compute API rejected the credentials (%w). %s", what, snapshot.ErrCredentials, err, credentialsFix)
	case gerr.Code == http.StatusForbidden:
		return fmt.Errorf("%s: %w: permission denied (%w); %s", what, snapshot.ErrCredentials, err, permissionsFix)
	}
	return fmt.Errorf("%s: %w", what, err)
}
