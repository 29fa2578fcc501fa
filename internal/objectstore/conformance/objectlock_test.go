package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/aws"
	"github.com/heptio/ark/internal/testproc"
)

// TestObjectLockOnMinIO: the aws store writes into a bucket created with
// object lock and a default retention (small objects and multipart ones),
// reads each object's retention back, and a plain DELETE of a locked
// object leaves the locked version in place (S3 adds a delete marker),
// which is why Ark reads the retention before deleting.
func TestObjectLockOnMinIO(t *testing.T) {
	bin := testproc.Require(t, testproc.MinIO)
	port, consolePort := freePort(t), freePort(t)
	endpoint := "http://" + hostPort(port)
	startServer(t, "minio", bin,
		[]string{"server", filepath.Join(t.TempDir(), "data"), "--address", hostPort(port), "--console-address", hostPort(consolePort), "--quiet"},
		[]string{"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioSecret},
		httpReady(endpoint+"/minio/health/ready", func(s int) bool { return s == http.StatusOK }))
	useAWSCredentialsFile(t, writeAWSCredentials(t, minioUser, minioSecret))
	ctx := context.Background()
	admin := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(minioUser, minioSecret, "")})
	const bucket = "locked"
	_, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: awssdk.String(bucket), ObjectLockEnabledForBucket: awssdk.Bool(true)})
	mustf(t, err, "create a bucket with object lock")
	_, err = admin.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: awssdk.String(bucket),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: awssdk.Int32(1)}}}})
	mustf(t, err, "set a default retention")

	store, err := aws.New(map[string]string{"region": "us-east-1", "s3Url": endpoint, "s3ForcePathStyle": "true"})
	mustf(t, err, "aws.New")
	big := make([]byte, 20<<20) // three parts
	_, _ = rand.Read(big)
	for key, body := range map[string][]byte{"b1/ark-backup.json": []byte(`{"kind":"Backup"}`), "b1/b1.tar.gz": big} {
		// A plain reader, not a seeker: the pipe a backup streams through.
		if err := store.PutObject(ctx, bucket, key, io.MultiReader(bytes.NewReader(body))); err != nil {
			t.Fatalf("PutObject %s into a bucket with object lock: %v", key, err)
		}
	}
	rr, ok := objectstore.ObjectStore(store).(objectstore.RetentionReader)
	if !ok {
		t.Fatal("the aws store does not read retention")
	}
	r, err := rr.ObjectRetention(ctx, bucket, "b1/b1.tar.gz")
	mustf(t, err, "ObjectRetention")
	if r.Mode != "GOVERNANCE" || r.Until.Before(time.Now().Add(23*time.Hour)) || !r.Holds(time.Now()) || r.Holds(time.Now().Add(25*time.Hour)) {
		t.Fatalf("retention %+v, want GOVERNANCE for a day", r)
	}
	if _, err := rr.ObjectRetention(ctx, bucket, "b1/missing"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Fatalf("retention of a missing key: %v", err)
	}
	// A plain delete "succeeds" with a delete marker; the locked version
	// stays.
	mustf(t, store.DeleteObject(ctx, bucket, "b1/ark-backup.json"), "DeleteObject")
	versions, err := admin.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: awssdk.String(bucket), Prefix: awssdk.String("b1/ark-backup.json")})
	mustf(t, err, "ListObjectVersions")
	if len(versions.Versions) != 1 || len(versions.DeleteMarkers) != 1 {
		t.Fatalf("after a delete: %d versions, %d delete markers; want the locked version kept behind a marker", len(versions.Versions), len(versions.DeleteMarkers))
	}
	// Deleting the locked version itself is refused, and says so.
	_, err = admin.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String("b1/ark-backup.json"), VersionId: versions.Versions[0].VersionId})
	if err == nil {
		t.Fatal("MinIO deleted a locked version")
	}
	t.Logf("deleting a locked version: %v", err)
}
