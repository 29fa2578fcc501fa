package conformance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/option"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/aws"
	"github.com/heptio/ark/internal/objectstore/azure"
	"github.com/heptio/ark/internal/objectstore/filesystem"
	"github.com/heptio/ark/internal/objectstore/gcp"
	"github.com/heptio/ark/internal/testproc"
)

const testBucket = "ark-conformance"

func TestConformance(t *testing.T) {
	for _, p := range []struct {
		name  string
		setup func(t *testing.T) target
	}{
		{"aws", minioTarget},
		{"gcp", fakeGCSTarget},
		{"azure", azuriteTarget},
		{"filesystem", filesystemTarget},
	} {
		t.Run(p.name, func(t *testing.T) {
			start := time.Now()
			runSuite(t, p.setup(t))
			t.Logf("%s conformance run took %v (server start included)", p.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// plainHTTP is what a user's HTTP client looks like: nothing but net/http.
func plainHTTP() *http.Client { return &http.Client{Timeout: time.Minute} }

// --- aws on MinIO ---

const (
	minioUser   = "arkminio"
	minioSecret = "arkminio-secret-key"
)

func minioTarget(t *testing.T) target {
	bin := testproc.Require(t, testproc.MinIO)
	port, consolePort := freePort(t), freePort(t)
	endpoint := "http://" + hostPort(port)
	srv := startServer(t, "minio", bin,
		[]string{"server", filepath.Join(t.TempDir(), "data"), "--address", hostPort(port), "--console-address", hostPort(consolePort), "--quiet"},
		[]string{"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioSecret},
		httpReady(endpoint+"/minio/health/ready", func(s int) bool { return s == http.StatusOK }))

	// Credentials reach the store the way they reach the Ark server: a
	// shared credentials file named by AWS_SHARED_CREDENTIALS_FILE.
	useAWSCredentialsFile(t, writeAWSCredentials(t, minioUser, minioSecret))
	config := map[string]string{"region": "us-east-1", "s3Url": endpoint, "s3ForcePathStyle": "true"}
	store, err := aws.New(config)
	mustf(t, err, "aws.New")

	admin := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(minioUser, minioSecret, "")})
	_, err = admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: awssdk.String(testBucket)})
	mustf(t, err, "create bucket on MinIO")

	listWith := func(t *testing.T) error {
		s, err := aws.New(config)
		if err != nil {
			return err
		}
		_, err = s.ListObjects(context.Background(), testBucket, "")
		return err
	}
	return target{
		store: store, bucket: testBucket, listPageSize: 1000,
		signatureParam: "X-Amz-Signature",
		httpClient:     plainHTTP(),
		wrongCredentials: []credentialCase{
			{
				name: "wrong secret key",
				run: func(t *testing.T) error {
					useAWSCredentialsFile(t, writeAWSCredentials(t, minioUser, "not-the-secret"))
					return listWith(t)
				},
				wantIs:   objectstore.ErrAccessDenied,
				wantText: []string{"SignatureDoesNotMatch", "cloud-credentials", "aws_secret_access_key"},
			},
			{
				name: "unknown access key",
				run: func(t *testing.T) error {
					useAWSCredentialsFile(t, writeAWSCredentials(t, "nobody", minioSecret))
					return listWith(t)
				},
				wantIs:   objectstore.ErrAccessDenied,
				wantText: []string{"InvalidAccessKeyId", "cloud-credentials"},
			},
			{
				name: "no credentials at all",
				run: func(t *testing.T) error {
					useAWSCredentialsFile(t, filepath.Join(t.TempDir(), "credentials", "cloud"))
					return listWith(t)
				},
				wantIs: objectstore.ErrAccessDenied,
				wantText: []string{"NoCredentialProviders: no valid providers in chain", "cloud-credentials",
					"[default]", "aws_access_key_id", "/credentials", "AWS_SHARED_CREDENTIALS_FILE=/credentials/cloud"},
			},
		},
		stop: srv.Stop, stoppedErr: objectstore.ErrUnreachable, stoppedText: hostPort(port),
	}
}

func writeAWSCredentials(t *testing.T, id, secret string) string {
	p := filepath.Join(t.TempDir(), "cloud")
	content := fmt.Sprintf("[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", id, secret)
	mustf(t, os.WriteFile(p, []byte(content), 0o600), "write credentials")
	return p
}

// useAWSCredentialsFile points the SDK's default chain at file and nothing
// else: no AWS_* keys from the developer's shell, no ~/.aws/config, no IMDS.
func useAWSCredentialsFile(t *testing.T, file string) {
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// --- gcp on fake-gcs-server ---

func fakeGCSTarget(t *testing.T) target {
	bin := testproc.Require(t, testproc.FakeGCSServer)
	port := freePort(t)
	host := hostPort(port)
	srv := startServer(t, "fake-gcs-server", bin,
		[]string{"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
			"-backend", "filesystem", "-filesystem-root", filepath.Join(t.TempDir(), "data"),
			// Signed URLs are path-style on this host; the server routes
			// them only when the Host header matches -public-host.
			"-public-host", host, "-external-url", "http://" + host, "-log-level", "warn"},
		nil,
		httpReady("http://"+host+"/_internal/healthcheck", func(s int) bool { return s == http.StatusOK }))

	t.Setenv(gcp.EnvEmulatorHost, "")
	t.Setenv(gcp.EnvCredentials, writeServiceAccountKey(t))
	config := map[string]string{gcp.ConfigEmulatorHost: host}
	store, err := gcp.New(config)
	mustf(t, err, "gcp.New")

	admin, err := storage.NewClient(context.Background(), option.WithEndpoint("http://"+host+"/storage/v1/"), option.WithoutAuthentication())
	mustf(t, err, "storage client for setup")
	t.Cleanup(func() { admin.Close() })
	mustf(t, admin.Bucket(testBucket).Create(context.Background(), "ark-test", nil), "create bucket on fake-gcs-server")

	return target{
		store: store, bucket: testBucket, listPageSize: 1000,
		// fake-gcs-server does not verify URL signatures (a tampered URL
		// is served too), so only the happy path of signed URLs is
		// checked against it.
		signatureParam: "",
		httpClient:     plainHTTP(),
		// fake-gcs-server accepts any credentials, so only the errors Ark
		// raises itself, before any request, can be checked here.
		wrongCredentials: []credentialCase{
			{
				name: "credentials file missing",
				run: func(t *testing.T) error {
					missing := filepath.Join(t.TempDir(), "credentials", "cloud")
					t.Setenv(gcp.EnvCredentials, missing)
					_, err := gcp.New(config)
					return err
				},
				wantIs: objectstore.ErrAccessDenied,
				wantText: []string{"/credentials/cloud: no such file or directory", "open ",
					"cloud-credentials", "mount it into the Ark server pod at /credentials"},
			},
			{
				name: "credentials file is not a key",
				run: func(t *testing.T) error {
					p := filepath.Join(t.TempDir(), "cloud")
					mustf(t, os.WriteFile(p, []byte("[default]\naws_access_key_id=x\n"), 0o600), "write")
					t.Setenv(gcp.EnvCredentials, p)
					_, err := gcp.New(config)
					return err
				},
				wantIs:   objectstore.ErrAccessDenied,
				wantText: []string{"not a JSON key file", "gcloud iam service-accounts keys create"},
			},
		},
		stop: srv.Stop, stoppedErr: objectstore.ErrUnreachable, stoppedText: host,
	}
}

// writeServiceAccountKey writes a service account key file with a freshly
// generated RSA key, the shape `gcloud iam service-accounts keys create`
// produces, so URL signing runs for real.
func writeServiceAccountKey(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	mustf(t, err, "generate RSA key")
	der, err := x509.MarshalPKCS8PrivateKey(key)
	mustf(t, err, "marshal key")
	data, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "ark-test",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "heptio-ark@ark-test.iam.gserviceaccount.com",
		"client_id":      "100000000000000000000",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	mustf(t, err, "marshal key file")
	p := filepath.Join(t.TempDir(), "cloud")
	mustf(t, os.WriteFile(p, data, 0o600), "write key file")
	return p
}

// --- azure on Azurite ---

// Azurite's well-known development account.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

func azuriteTarget(t *testing.T) target {
	bin := testproc.Require(t, testproc.Azurite)
	port := freePort(t)
	host := hostPort(port)
	endpoint := "http://" + host + "/" + azuriteAccount + "/"
	srv := startServer(t, "azurite", bin,
		[]string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port), "--location", filepath.Join(t.TempDir(), "data"),
			"--disableTelemetry", "--skipApiVersionCheck", "--silent"},
		nil,
		// Any HTTP answer (an unauthenticated list is refused) means it is up.
		httpReady(endpoint+"?comp=list", func(s int) bool { return s > 0 }))

	useAzureAccount(t, azuriteAccount, azuriteKey)
	config := map[string]string{azure.ConfigStorageEndpoint: endpoint}
	store, err := azure.New(config)
	mustf(t, err, "azure.New")

	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	mustf(t, err, "shared key")
	admin, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, nil)
	mustf(t, err, "azblob client for setup")
	_, err = admin.CreateContainer(context.Background(), testBucket, nil)
	mustf(t, err, "create container on Azurite")

	t.Run("ConnectionString", func(t *testing.T) {
		useAzureAccount(t, "", "")
		t.Setenv(azure.EnvConnectionString, fmt.Sprintf(
			"DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", azuriteAccount, azuriteKey, endpoint))
		s, err := azure.New(nil)
		mustf(t, err, "azure.New with a connection string")
		putBytes(t, s, testBucket, "connection-string/probe", []byte("ok"))
		if got := getBytes(t, s, testBucket, "connection-string/probe"); string(got) != "ok" {
			t.Fatalf("get = %q", got)
		}
		u, err := s.CreateSignedURL(context.Background(), testBucket, "connection-string/probe", time.Minute)
		mustf(t, err, "CreateSignedURL")
		if status, body := fetch(t, plainHTTP(), u); status != http.StatusOK || string(body) != "ok" {
			t.Fatalf("GET SAS URL = %d %q", status, body)
		}
		mustf(t, s.DeleteObject(context.Background(), testBucket, "connection-string/probe"), "delete")
	})

	listWith := func() error {
		s, err := azure.New(config)
		if err != nil {
			return err
		}
		_, err = s.ListObjects(context.Background(), testBucket, "")
		return err
	}
	return target{
		store: store, bucket: testBucket, listPageSize: 1000,
		signatureParam: "sig",
		httpClient:     plainHTTP(),
		wrongCredentials: []credentialCase{
			{
				name: "wrong storage key",
				run: func(t *testing.T) error {
					useAzureAccount(t, azuriteAccount, "bm90IHRoZSBrZXkgb2YgdGhpcyBhY2NvdW50LCBqdXN0IGZpbGxlciBieXRlcyEhIQ==")
					return listWith()
				},
				wantIs:   objectstore.ErrAccessDenied,
				wantText: []string{"cloud-credentials", "AZURE_STORAGE_KEY", "environment variables"},
			},
			{
				name: "storage key not base64",
				run: func(t *testing.T) error {
					useAzureAccount(t, azuriteAccount, "not base64!")
					return listWith()
				},
				wantText: []string{"AZURE_STORAGE_KEY is not a valid storage account key", "cloud-credentials"},
			},
			{
				name: "no storage account",
				run: func(t *testing.T) error {
					useAzureAccount(t, "", "")
					return listWith()
				},
				wantText: []string{"AZURE_STORAGE_ACCOUNT_ID is not set", "cloud-credentials", "environment variables"},
			},
		},
		stop: srv.Stop, stoppedErr: objectstore.ErrUnreachable, stoppedText: host,
	}
}

// useAzureAccount sets the storage account environment as the Ark
// deployment does from the cloud-credentials secret, clearing the others.
func useAzureAccount(t *testing.T, account, key string) {
	t.Setenv(azure.EnvAccount, account)
	t.Setenv(azure.EnvKey, key)
	t.Setenv(azure.EnvConnectionString, "")
	t.Setenv(azure.EnvEndpoint, "")
}

// --- filesystem ---

func filesystemTarget(t *testing.T) target {
	root := t.TempDir()
	bucketDir := filepath.Join(root, testBucket)
	mustf(t, os.Mkdir(bucketDir, 0o755), "mkdir bucket")
	store, err := filesystem.New(map[string]string{"path": root})
	mustf(t, err, "filesystem.New")

	// The ark CLI reads file:// URLs with net/http's file transport.
	transport := &http.Transport{}
	transport.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
	return target{
		store: store, bucket: testBucket, listPageSize: 0,
		httpClient: &http.Client{Transport: transport},
		// The storage "going away" here is its bucket directory being
		// removed under a running upload.
		stop:        func() { _ = os.RemoveAll(bucketDir) },
		stoppedErr:  objectstore.ErrBucketNotFound,
		stoppedText: bucketDir,
	}
}
