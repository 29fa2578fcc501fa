package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// fastSyncArgs lets the Config's periods go down to a second.
var fastSyncArgs = []string{"--min-sync-period", "1s"}

// bucketObjects returns key -> ETag of every object under prefix in the
// bucket, read straight from MinIO.
func bucketObjects(t *testing.T, m *localcluster.MinIO, bucket, prefix string) map[string]string {
	t.Helper()
	c := harness.S3Client(m)
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing bucket %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToString(o.ETag)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requireStoredBackup fails unless the bucket has the backup's metadata and
// archive.
func requireStoredBackup(t *testing.T, env *harness.Env, m *localcluster.MinIO, name string) map[string]string {
	t.Helper()
	objs := bucketObjects(t, m, env.Bucket, name+"/")
	for _, k := range []string{name + "/ark-backup.json", name + "/" + name + ".tar.gz"} {
		if _, ok := objs[k]; !ok {
			t.Fatalf("bucket lacks %s; under %s/ it has %v", k, name, sortedKeys(objs))
		}
	}
	return objs
}

func getBackup(env *harness.Env, name string) (*arkv1.Backup, error) {
	var b arkv1.Backup
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &b)
	return &b, err
}

// waitBackupGone waits until the Backup object no longer exists.
func waitBackupGone(env *harness.Env, name string, timeout time.Duration) {
	env.T.Helper()
	env.Eventually(timeout, "backup "+name+" gone from the cluster", func() (bool, error) {
		_, err := getBackup(env, name)
		return apierrors.IsNotFound(err), err
	})
}

// waitBackupPhase waits until the backup exists in one of phases and returns it.
func waitBackupPhase(env *harness.Env, name string, timeout time.Duration, phases ...arkv1.BackupPhase) *arkv1.Backup {
	env.T.Helper()
	var b *arkv1.Backup
	env.Eventually(timeout, fmt.Sprintf("backup %s in phase %v", name, phases), func() (bool, error) {
		var err error
		b, err = getBackup(env, name)
		if err != nil {
			return false, err
		}
		for _, p := range phases {
			if b.Status.Phase == p {
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %q", b.Status.Phase)
	})
	return b
}

// deleteRequests returns the DeleteBackupRequests for a backup.
func deleteRequests(t testing.TB, env *harness.Env, backup string) []arkv1.DeleteBackupRequest {
	t.Helper()
	var list arkv1.DeleteBackupRequestList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(harness.Namespace)); err != nil {
		t.Fatal(err)
	}
	var out []arkv1.DeleteBackupRequest
	for _, r := range list.Items {
		if r.Spec.BackupName == backup {
			out = append(out, r)
		}
	}
	return out
}

// waitProcessedRequest waits until a DeleteBackupRequest for backup is
// Processed and returns it.
func waitProcessedRequest(env *harness.Env, backup string, timeout time.Duration) arkv1.DeleteBackupRequest {
	env.T.Helper()
	var got arkv1.DeleteBackupRequest
	env.Eventually(timeout, "a processed DeleteBackupRequest for "+backup, func() (bool, error) {
		for _, r := range deleteRequests(env.T, env, backup) {
			if r.Status.Phase == arkv1.DeleteBackupRequestPhaseProcessed {
				got = r
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// createAppNamespace makes a small namespace to back up, so backups stay
// quick: a few configmaps, a secret and a service.
func createAppNamespace(t *testing.T, env *harness.Env, ns string, configMaps int) {
	t.Helper()
	ctx := context.Background()
	env.EnsureNamespace(ns)
	// client-go's default of 5 requests a second would make hundreds of
	// configmaps take minutes.
	cfg := env.Cluster.RESTConfig()
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < configMaps; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("cm-%04d", i), Labels: map[string]string{"app": ns}},
			Data: map[string]string{"index": fmt.Sprint(i)}}
		if err := c.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds", Labels: map[string]string{"app": ns}},
		StringData: map[string]string{"password": "hunter2"}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", Labels: map[string]string{"app": ns}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, o := range []client.Object{secret, svc} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// mustBackup runs `ark backup create NAME ARGS... --wait` and fails unless
// the backup Completed.
func mustBackup(t *testing.T, env *harness.Env, name string, args ...string) {
	t.Helper()
	out := env.MustArk(append([]string{"backup", "create", name, "--wait"}, args...)...)
	if !strings.Contains(out, "Backup "+name+": Completed") {
		t.Fatalf("backup %s did not complete:\n%s", name, out)
	}
}

// serverLogHas waits until the server's log contains s.
func serverLogHas(env *harness.Env, s string, timeout time.Duration) {
	env.T.Helper()
	env.Eventually(timeout, fmt.Sprintf("server log line %q", s), func() (bool, error) {
		return strings.Contains(env.ServerLog(), s), nil
	})
}
