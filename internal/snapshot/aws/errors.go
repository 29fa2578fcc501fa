package aws

import (
	"context"
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/heptio/ark/internal/redact"
	"github.com/heptio/ark/internal/snapshot"
)

// credentialsFix is the troubleshooting doc's advice for
// "NoCredentialProviders: no valid providers in chain".
const credentialsFix = "This means that the secret containing the AWS IAM user credentials for Ark has not been created/mounted " +
	"properly into the Ark server pod. Ensure that: the cloud-credentials secret exists in the Ark server's namespace " +
	"(heptio-ark); it has a single key, cloud, whose value is the contents of the credentials-ark file, formatted as " +
	"\"[default]\\naws_access_key_id=<your AWS access key ID>\\naws_secret_access_key=<your AWS secret access key>\"; " +
	"the secret is defined as a volume of the Ark deployment and mounted into the Ark server pod at /credentials; " +
	"and AWS_SHARED_CREDENTIALS_FILE is /credentials/cloud"

// credentialsWithFix adds the Ark-specific fix to a failed credential lookup.
// The SDK's own message ("failed to refresh cached credentials, no EC2 IMDS
// role found ...") does not say where Ark expects the credentials.
type credentialsWithFix struct {
	inner awssdk.CredentialsProvider
}

func (c credentialsWithFix) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if c.inner == nil {
		return awssdk.Credentials{}, &noCredentialsError{cause: errors.New("no credential provider configured")}
	}
	creds, err := c.inner.Retrieve(ctx)
	if err != nil {
		return creds, &noCredentialsError{cause: err}
	}
	return creds, nil
}

type noCredentialsError struct {
	cause error
}

func (e *noCredentialsError) Error() string {
	return fmt.Sprintf("NoCredentialProviders: no valid providers in chain (%v). %s", e.cause, credentialsFix)
}

func (e *noCredentialsError) Unwrap() []error { return []error{snapshot.ErrCredentials, e.cause} }

// explain wraps an EC2 error with what Ark was doing and, for the errors a
// user can act on, what to do about it.
func (b *BlockStore) explain(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	// The SDK's errors may quote request URLs and token responses.
	err = redact.Error(err)

	var noCreds *noCredentialsError
	if errors.As(err, &noCreds) {
		return fmt.Errorf("%s: %w", what, noCreds)
	}

	var maxAttempts *retry.MaxAttemptsError
	throttledOut := errors.As(err, &maxAttempts)

	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch code := apiErr.ErrorCode(); code {
	case "InvalidVolume.NotFound", "InvalidSnapshot.NotFound":
		return fmt.Errorf("%s: %w in region %s (%s: %s); check the ID and that the Ark Config's region matches the volume's region",
			what, snapshot.ErrNotFound, b.region, code, apiErr.ErrorMessage())
	case "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch":
		return fmt.Errorf("%s: %w: AWS rejected the credentials (%s: %s); give the Ark IAM user the AmazonEC2FullAccess "+
			"policy and check the keys in the cloud-credentials secret. %s", what, snapshot.ErrCredentials, code, apiErr.ErrorMessage(), credentialsFix)
	case "RequestLimitExceeded", "Throttling", "ThrottlingException":
		if throttledOut {
			return fmt.Errorf("%s: EC2 kept throttling the requests (%s) after %d attempts; other tools in the account are using "+
				"up the EC2 API rate: retry later, or ask AWS for a higher limit: %w", what, code, maxAttempts.Attempt, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
