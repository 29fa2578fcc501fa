// Package aws is Ark's object store on Amazon S3 and S3-compatible servers
// (MinIO, Ceph RGW, ...), built on aws-sdk-go-v2.
package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heptio/ark/internal/providerconfig"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/heptio/ark/internal/objectstore"
)

// Config keys, as in backupStorageProvider.config of the Ark Config.
const (
	ConfigRegion          = "region"
	ConfigS3URL           = "s3Url"
	ConfigS3ForcePath     = "s3ForcePathStyle"
	ConfigKMSKeyID        = "kmsKeyId"
	ConfigPublicURL       = "publicUrl"
	defaultCompatRegion   = "us-east-1"
	uploadPartSize        = 8 << 20
	uploadConcurrency     = 2
	retryMaxAttempts      = 3
	retryMaxBackoff       = 2 * time.Second
	dialTimeout           = 10 * time.Second
	responseHeaderTimeout = 2 * time.Minute
)

// Keys are the config keys of the aws object store.
var Keys = providerconfig.Keys{
	Known:    []string{ConfigRegion, ConfigS3URL, ConfigS3ForcePath, ConfigKMSKeyID, ConfigPublicURL},
	Required: [][]string{{ConfigRegion, ConfigS3URL}},
}

// Store implements objectstore.ObjectStore on S3.
type Store struct {
	client   *s3.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	kmsKeyID string
}

var _ objectstore.ObjectStore = (*Store)(nil)

// New builds a Store from backupStorageProvider.config. Credentials come from
// the SDK's default chain: AWS_SHARED_CREDENTIALS_FILE (/credentials/cloud in
// the Ark deployment), the AWS_* environment, web identity, then the instance
// role. Nothing is sent over the network until the first call.
func New(cfg map[string]string) (*Store, error) {
	opts, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}

	// Ark v0.7 failed slowly against a dead endpoint because the SDK retried
	// for minutes; a few attempts with a short backoff fail in seconds while
	// still riding out a brief blip. The token-bucket rate limiter is off so
	// the real cause is never replaced by "retry quota exceeded".
	retryer := func() awssdk.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = retryMaxAttempts
			o.MaxBackoff = retryMaxBackoff
			o.RateLimiter = ratelimit.None
		})
	}
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout }).
		WithTransportOptions(func(t *http.Transport) { t.ResponseHeaderTimeout = responseHeaderTimeout })

	awsCfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(opts.region),
		config.WithRetryer(retryer),
		config.WithHTTPClient(httpClient),
	)
	if err != nil {
		return nil, fmt.Errorf("aws object store: cannot load the AWS configuration (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_* environment): %w; %s", err, credentialsFix)
	}
	awsCfg.Credentials = explainingCredentials{inner: awsCfg.Credentials}

	s3Options := func(endpoint string) func(*s3.Options) {
		return func(o *s3.Options) {
			o.UsePathStyle = opts.forcePathStyle
			if endpoint != "" {
				o.BaseEndpoint = awssdk.String(endpoint)
				// S3-compatible servers lag behind AWS in supporting the
				// newer default CRC checksums; only send them where S3 asks.
				o.RequestChecksumCalculation = awssdk.RequestChecksumCalculationWhenRequired
				o.ResponseChecksumValidation = awssdk.ResponseChecksumValidationWhenRequired
			}
		}
	}
	client := s3.NewFromConfig(awsCfg, s3Options(opts.s3URL))
	presignClient := client
	if opts.publicURL != "" {
		presignClient = s3.NewFromConfig(awsCfg, s3Options(opts.publicURL))
	}

	return &Store{
		client:  client,
		presign: s3.NewPresignClient(presignClient),
		// Parts are buffered, PartSize x (Concurrency+1) = 24 MiB at most,
		// which is what lets a non-seekable tar.gz pipe be uploaded and each
		// part retried. 8 MiB x 10,000 parts caps one object at about 78 GiB.
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			u.PartSize = uploadPartSize
			u.Concurrency = uploadConcurrency
			// The uploader would abort a failed multipart upload with the
			// upload's own context, which a cancel has ended, leaving the
			// parts stored (and billed) for good: PutObject aborts it.
			u.LeavePartsOnError = true
		}),
		kmsKeyID: opts.kmsKeyID,
	}, nil
}

type options struct {
	region, s3URL, publicURL, kmsKeyID string
	forcePathStyle                     bool
}

func parseConfig(cfg map[string]string) (options, error) {
	if err := Keys.CheckUnknown(cfg); err != nil {
		return options{}, fmt.Errorf("aws object store: %w in backupStorageProvider.config", err)
	}
	o := options{
		region:    cfg[ConfigRegion],
		s3URL:     strings.TrimSuffix(cfg[ConfigS3URL], "/"),
		publicURL: strings.TrimSuffix(cfg[ConfigPublicURL], "/"),
		kmsKeyID:  cfg[ConfigKMSKeyID],
	}
	if o.region == "" {
		if o.s3URL == "" {
			return options{}, fmt.Errorf("aws object store: config key %q is required: set backupStorageProvider.config.region to the bucket's region (for example us-east-1); it may be left out only when %q points at S3-compatible storage such as MinIO", ConfigRegion, ConfigS3URL)
		}
		// MinIO and most S3-compatible servers accept any region and sign
		// with us-east-1 by default.
		o.region = defaultCompatRegion
	}
	for _, u := range []struct{ key, val string }{{ConfigS3URL, o.s3URL}, {ConfigPublicURL, o.publicURL}} {
		if u.val != "" && !strings.HasPrefix(u.val, "http://") && !strings.HasPrefix(u.val, "https://") {
			return options{}, fmt.Errorf("aws object store: config key %q = %q is not a URL: write it with its scheme, for example http://minio.heptio-ark.svc:9000", u.key, u.val)
		}
	}
	if v, ok := cfg[ConfigS3ForcePath]; ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return options{}, fmt.Errorf("aws object store: config key %q = %q is not a boolean: use \"true\" or \"false\"", ConfigS3ForcePath, v)
		}
		o.forcePathStyle = b
	}
	return o, nil
}

// PutObject streams body to S3 as a multipart upload (a single PUT when the
// body is smaller than one part).
func (s *Store) PutObject(ctx context.Context, bucket, key string, body io.Reader) error {
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body}
	if s.kmsKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = awssdk.String(s.kmsKeyID)
	}
	if _, err := s.uploader.Upload(ctx, in); err != nil {
		var multi manager.MultiUploadFailure
		if errors.As(err, &multi) && multi.UploadID() != "" {
			abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			if _, aerr := s.client.AbortMultipartUpload(abortCtx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: awssdk.String(multi.UploadID())}); aerr != nil {
				err = fmt.Errorf("%w (and its parts could not be removed: %v; a bucket lifecycle rule AbortIncompleteMultipartUpload removes them)", err, aerr)
			}
		}
		return mapError("put", bucket, key, err)
	}
	return nil
}

// abortTimeout bounds the removal of a failed upload's parts.
const abortTimeout = time.Minute

// GetObject opens key for reading.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, mapError("get", bucket, key, err)
	}
	return out.Body, nil
}

// ListCommonPrefixes returns the prefixes S3 groups keys into under prefix.
func (s *Store) ListCommonPrefixes(ctx context.Context, bucket, prefix, delimiter string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &bucket, Prefix: &prefix, Delimiter: &delimiter,
	})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError("list", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, awssdk.ToString(cp.Prefix))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListObjects returns every key under prefix, page by page.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapError("list", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, awssdk.ToString(o.Key))
		}
	}
	return out, nil
}

// DeleteObject removes key; S3 itself answers success for a missing key.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		err = mapError("delete", bucket, key, err)
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// ObjectRetention reads key's object lock (retain-until date, mode, legal
// hold) from its HEAD.
func (s *Store) ObjectRetention(ctx context.Context, bucket, key string) (objectstore.Retention, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return objectstore.Retention{}, mapError("read the retention of", bucket, key, err)
	}
	r := objectstore.Retention{Mode: string(out.ObjectLockMode), Hold: out.ObjectLockLegalHoldStatus == types.ObjectLockLegalHoldStatusOn}
	if out.ObjectLockRetainUntilDate != nil {
		r.Until = *out.ObjectLockRetainUntilDate
	}
	return r, nil
}

// CreateSignedURL presigns a GET of key (SigV4, valid for ttl), through
// publicUrl when set so the CLI can reach an in-cluster MinIO.
func (s *Store) CreateSignedURL(ctx context.Context, bucket, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", mapError("sign", bucket, key, err)
	}
	return req.URL, nil
}
