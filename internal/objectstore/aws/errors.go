package aws

import (
	"context"
	"errors"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/unreachable"
	"github.com/heptio/ark/internal/redact"
)

// credentialsFix is the troubleshooting doc's checklist for
// "NoCredentialProviders: no valid providers in chain", in one line so it
// survives log formatting.
const credentialsFix = "fix: create the secret cloud-credentials in the Ark server's namespace (heptio-ark by default) " +
	"with a single key cloud whose value is a credentials file with a [default] section holding " +
	"aws_access_key_id=<key id> and aws_secret_access_key=<secret key> " +
	"(kubectl create secret generic cloud-credentials --namespace heptio-ark --from-file cloud=credentials-ark), " +
	"mount it into the Ark server pod at /credentials, and set AWS_SHARED_CREDENTIALS_FILE=/credentials/cloud in the deployment"

// noCredentialsError keeps the v1 SDK's wording, which the troubleshooting
// doc (and users' searches) key on, although the v2 SDK phrases it differently.
type noCredentialsError struct{ cause error }

func (e *noCredentialsError) Error() string {
	return fmt.Sprintf("NoCredentialProviders: no valid providers in chain (%v); %s", e.cause, credentialsFix)
}

func (e *noCredentialsError) Unwrap() []error { return []error{objectstore.ErrAccessDenied, e.cause} }

// explainingCredentials turns a failure of the whole default chain into
// noCredentialsError, at the one place where the SDK asks for credentials.
type explainingCredentials struct{ inner awssdk.CredentialsProvider }

func (c explainingCredentials) Retrieve(ctx context.Context) (awssdk.Credentials, error) {
	if c.inner == nil {
		return awssdk.Credentials{}, &noCredentialsError{cause: errors.New("no credentials provider configured")}
	}
	creds, err := c.inner.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return creds, &noCredentialsError{cause: err}
	}
	return creds, err
}

// accessFix says what to check when S3 rejected the credentials it was given.
const accessFix = "check aws_access_key_id and aws_secret_access_key in the cloud-credentials secret (key cloud, " +
	"mounted at /credentials) and that this IAM user may s3:ListBucket, s3:GetObject, s3:PutObject and " +
	"s3:DeleteObject on the bucket"

// mapError turns an SDK error into one that wraps the objectstore sentinel
// and tells the user what to change. op is a verb for the message.
func mapError(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	// The SDK's errors may quote request URLs (a presigned one's query
	// string is its signature).
	err = redact.Error(err)
	where := fmt.Sprintf("s3://%s/%s", bucket, key)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	var credErr *noCredentialsError
	if errors.As(err, &credErr) {
		return fmt.Errorf("%s %s: %w", op, where, credErr)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Errorf("%w: S3 bucket %q does not exist (%s %s): create it (aws s3 mb s3://%s, or mc mb for MinIO) or fix backupStorageProvider.bucket in the Ark Config: %w",
				objectstore.ErrBucketNotFound, bucket, op, where, bucket, err)
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%w: %s: %w", objectstore.ErrNotFound, where, err)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
			"ExpiredToken", "InvalidClientTokenId", "AccountProblem", "AllAccessDisabled":
			return fmt.Errorf("%w: S3 refused to %s %s (%s): %s: %w",
				objectstore.ErrAccessDenied, op, where, apiErr.ErrorCode(), accessFix, err)
		case "ObjectLocked", "InvalidRetentionPeriod":
			return fmt.Errorf("%w: S3 refused to %s %s: it is under object lock (%s): %w", objectstore.ErrRetained, op, where, apiErr.ErrorCode(), err)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return fmt.Errorf("%s %s: bucket %q is in another region than the configured one: set backupStorageProvider.config.region to the bucket's region: %w",
				op, where, bucket, err)
		}
	}
	if endpoint, ok := unreachable.Endpoint(err); ok {
		return fmt.Errorf("%w: cannot reach the S3 endpoint %s to %s %s: check that it is up and that backupStorageProvider.config.s3Url (or region) is right: %w",
			objectstore.ErrUnreachable, endpoint, op, where, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}
