package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/heptio/ark/internal/objectstore"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     map[string]string
		want    options
		wantErr []string
	}{
		{name: "aws region", cfg: map[string]string{"region": "eu-west-1"}, want: options{region: "eu-west-1"}},
		{
			name: "minio without region",
			cfg:  map[string]string{"s3Url": "http://minio.heptio-ark.svc:9000/", "s3ForcePathStyle": "true"},
			want: options{region: "us-east-1", s3URL: "http://minio.heptio-ark.svc:9000", forcePathStyle: true},
		},
		{
			name: "kms and public url",
			cfg:  map[string]string{"region": "us-east-1", "kmsKeyId": "alias/ark", "publicUrl": "https://minio.example.com"},
			want: options{region: "us-east-1", kmsKeyID: "alias/ark", publicURL: "https://minio.example.com"},
		},
		{name: "no region", cfg: map[string]string{}, wantErr: []string{`"region" is required`, "s3Url", "backupStorageProvider.config.region"}},
		{name: "typo in key", cfg: map[string]string{"region": "x", "s3url": "http://m"}, wantErr: []string{`unknown config key "s3url"`, "s3Url"}},
		{name: "bad bool", cfg: map[string]string{"region": "x", "s3ForcePathStyle": "yes please"}, wantErr: []string{"s3ForcePathStyle", "not a boolean"}},
		{name: "url without scheme", cfg: map[string]string{"s3Url": "minio:9000"}, wantErr: []string{"not a URL", "http://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.cfg)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("parseConfig(%v) = %+v, want an error", tc.cfg, got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("parseConfig = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMapError(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error S3: GetObject: %w", &smithy.GenericAPIError{Code: code, Message: "from S3"})
	}
	for _, tc := range []struct {
		err      error
		wantIs   error
		wantText []string
	}{
		{api("NoSuchBucket"), objectstore.ErrBucketNotFound, []string{`"ark-backups"`, "create it", "backupStorageProvider.bucket"}},
		{api("NoSuchKey"), objectstore.ErrNotFound, []string{"s3://ark-backups/b1/ark-backup.json"}},
		{api("InvalidAccessKeyId"), objectstore.ErrAccessDenied, []string{"InvalidAccessKeyId", "cloud-credentials", "aws_access_key_id"}},
		{api("SignatureDoesNotMatch"), objectstore.ErrAccessDenied, []string{"aws_secret_access_key"}},
		{api("AccessDenied"), objectstore.ErrAccessDenied, []string{"s3:PutObject"}},
		{api("PermanentRedirect"), nil, []string{"backupStorageProvider.config.region"}},
		{&noCredentialsError{cause: errors.New("no EC2 IMDS role found")}, objectstore.ErrAccessDenied,
			[]string{"NoCredentialProviders: no valid providers in chain", "cloud-credentials", "[default]",
				"aws_access_key_id", "aws_secret_access_key", "/credentials", "AWS_SHARED_CREDENTIALS_FILE=/credentials/cloud"}},
	} {
		err := mapError("get", "ark-backups", "b1/ark-backup.json", tc.err)
		if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
			t.Errorf("mapError(%v) = %v, does not wrap %v", tc.err, err, tc.wantIs)
		}
		for _, w := range tc.wantText {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("mapError(%v) = %q, does not contain %q", tc.err, err, w)
			}
		}
	}
	ctxErr := mapError("get", "b", "k", context.Canceled)
	if !errors.Is(ctxErr, context.Canceled) || errors.Is(ctxErr, objectstore.ErrUnreachable) {
		t.Errorf("cancellation mapped to %v", ctxErr)
	}
}

type failingProvider struct{ err error }

func (f failingProvider) Retrieve(context.Context) (awssdk.Credentials, error) {
	return awssdk.Credentials{}, f.err
}

func TestExplainingCredentials(t *testing.T) {
	cause := errors.New("failed to refresh cached credentials, no EC2 IMDS role found")
	_, err := explainingCredentials{inner: failingProvider{cause}}.Retrieve(context.Background())
	if !errors.Is(err, objectstore.ErrAccessDenied) || !errors.Is(err, cause) {
		t.Errorf("Retrieve error %v wraps neither ErrAccessDenied nor the cause", err)
	}
	if !strings.Contains(err.Error(), "NoCredentialProviders: no valid providers in chain") {
		t.Errorf("Retrieve error %q lacks the troubleshooting doc's wording", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = explainingCredentials{inner: failingProvider{context.Canceled}}.Retrieve(ctx)
	var credErr *noCredentialsError
	if errors.As(err, &credErr) {
		t.Errorf("a cancelled lookup was reported as missing credentials: %v", err)
	}
}

// withCredentials points the SDK's default chain at a throwaway shared
// credentials file only.
func withCredentials(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cloud")
	if err := os.WriteFile(p, []byte("[default]\naws_access_key_id=AKIDEXAMPLE\naws_secret_access_key=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", p)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestUnreachableEndpointFailsWithItsName(t *testing.T) {
	withCredentials(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there now

	s, err := New(map[string]string{"s3Url": endpoint, "s3ForcePathStyle": "true"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListObjects(context.Background(), "ark", "")
	if !errors.Is(err, objectstore.ErrUnreachable) || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("ListObjects on a closed port = %v, want ErrUnreachable naming %s", err, endpoint)
	}
}

// TestPutObjectSendsKMSHeaders checks the SSE-KMS request headers on the wire
// (MinIO needs a KMS configured to honour them, so the conformance run cannot).
func TestPutObjectSendsKMSHeaders(t *testing.T) {
	withCredentials(t)
	var mu sync.Mutex
	headers := http.Header{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPut {
			mu.Lock()
			headers = r.Header.Clone()
			mu.Unlock()
		}
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
	}))
	defer srv.Close()

	s, err := New(map[string]string{"s3Url": srv.URL, "s3ForcePathStyle": "true", "kmsKeyId": "alias/ark"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(context.Background(), "ark", "b1/ark-backup.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := headers.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
		t.Errorf("x-amz-server-side-encryption = %q, want aws:kms", got)
	}
	if got := headers.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != "alias/ark" {
		t.Errorf("x-amz-server-side-encryption-aws-kms-key-id = %q, want alias/ark", got)
	}
}

func TestSignedURLUsesPublicURL(t *testing.T) {
	withCredentials(t)
	s, err := New(map[string]string{
		"s3Url": "http://minio.heptio-ark.svc:9000", "publicUrl": "https://minio.example.com", "s3ForcePathStyle": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.CreateSignedURL(context.Background(), "ark", "b1/b1-logs.gz", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "minio.example.com" || u.Path != "/ark/b1/b1-logs.gz" {
		t.Errorf("signed URL %s, want https://minio.example.com/ark/b1/b1-logs.gz?...", raw)
	}
	if u.Query().Get("X-Amz-Expires") != "600" || u.Query().Get("X-Amz-Signature") == "" {
		t.Errorf("signed URL %s lacks a 600 s SigV4 signature", raw)
	}
}
