package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// createConfigMaps makes n ConfigMaps in ns, in parallel.
func createConfigMaps(t *testing.T, env *harness.Env, ns string, n int) {
	t.Helper()
	env.EnsureNamespace(ns)
	cfg := env.Cluster.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const workers = 32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("cm-%05d", i)},
					Data: map[string]string{"index": fmt.Sprint(i), "payload": strings.Repeat("x", 200)}}
				if err := c.Create(context.Background(), cm); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating ConfigMaps: %v", err)
	}
	t.Logf("created %d ConfigMaps in %s", n, time.Since(start).Round(time.Second))
}

// multipartUploads lists the incomplete multipart uploads under prefix.
func multipartUploads(t *testing.T, env *harness.Env, prefix string) []string {
	t.Helper()
	out, err := harness.S3Client(env.Cluster.MinIO).ListMultipartUploads(context.Background(),
		&s3.ListMultipartUploadsInput{Bucket: aws.String(env.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("listing multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// waitItems waits until a running backup has backed up at least n items.
func waitItems(env *harness.Env, name string, n int) *arkv1.Backup {
	env.T.Helper()
	var b *arkv1.Backup
	env.Eventually(3*time.Minute, fmt.Sprintf("backup %s past %d items", name, n), func() (bool, error) {
		var err error
		if b, err = getBackup(env, name); err != nil {
			return false, err
		}
		if b.Status.Phase != "" && b.Status.Phase != arkv1.BackupPhaseNew && b.Status.Phase != arkv1.BackupPhaseInProgress {
			env.T.Fatalf("backup %s ended %s before it could be cancelled mid-way", name, b.Status.Phase)
		}
		return b.Status.Progress != nil && b.Status.Progress.ItemsBackedUp >= n, nil
	})
	return b
}

// TestLifecycleCancel: a backup of 20,000 objects cancelled mid-way stops
// within seconds and leaves nothing of it in the bucket (no object, no
// incomplete upload); one cancelled while no server runs is cleaned up by
// the next server; a restore cancelled mid-way keeps what it created and
// its status counts exactly that.
func TestLifecycleCancel(t *testing.T) {
	t.Parallel()
	// Small LIST pages stretch the backup so it is caught mid-way; two
	// restore workers do the same for the restore.
	env := harness.Start(t, harness.Options{ServerArgs: append([]string{"--backup-page-size", "20", "--restore-workers", "2"}, fastSyncArgs...)})
	const objects = 20000
	createConfigMaps(t, env, "cancel-app", objects)

	// A backup cancelled while it runs.
	env.MustArk("backup", "create", "big", "--include-namespaces", "cancel-app")
	waitItems(env, "big", 2000)
	asked := time.Now()
	out := env.MustArk("backup", "cancel", "big", "--wait")
	stopped := time.Since(asked)
	b, err := getBackup(env, "big")
	if err != nil {
		t.Fatal(err)
	}
	if b.Status.Phase != arkv1.BackupPhaseCancelled || !strings.Contains(out, "Backup big: Cancelled") ||
		!strings.Contains(b.Status.FailureReason, "its files were deleted from object storage") {
		t.Fatalf("after ark backup cancel --wait: %+v\n%s", b.Status, out)
	}
	t.Logf("cancelled after %d of %d items; Cancelled %s after the request: %s", b.Status.Progress.ItemsBackedUp, objects, stopped.Round(time.Millisecond), b.Status.FailureReason)
	if left := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "big/"); len(left) != 0 {
		t.Fatalf("a cancelled backup left %v in the bucket", sortedKeys(left))
	}
	if ups := multipartUploads(t, env, "big/"); len(ups) != 0 {
		t.Fatalf("a cancelled backup left incomplete uploads: %v", ups)
	}
	if d := env.MustArk("backup", "describe", "big"); !strings.Contains(d, "Phase:  Cancelled") || !strings.Contains(d, "Cancelled: cancelled by request after") {
		t.Fatalf("describe of a cancelled backup:\n%s", d)
	}
	if out := env.MustArk("backup", "cancel", "big"); !strings.Contains(out, `Backup "big" is Cancelled: there is nothing to cancel`) {
		t.Fatalf("cancelling a finished backup:\n%s", out)
	}
	if _, metrics, err := httpGet("http://" + env.MetricsAddr + "/metrics"); err != nil || !strings.Contains(metrics, `ark_backups_total{phase="Cancelled"} 1`) {
		t.Fatalf("metrics lack the cancelled backup (%v):\n%s", err, metrics)
	}

	// A complete backup to restore from.
	mustBackup(t, env, "full", "--include-namespaces", "cancel-app")

	// A restore cancelled while it runs.
	env.MustArk("restore", "create", "copy", "--from-backup", "full", "--namespace-mappings", "cancel-app:cancel-copy")
	env.Eventually(3*time.Minute, "restore copy past 500 items", func() (bool, error) {
		rs := restoreFetch(t, env, "copy")
		if rs.Status.Phase != "" && rs.Status.Phase != arkv1.RestorePhaseNew && rs.Status.Phase != arkv1.RestorePhaseInProgress {
			t.Fatalf("restore copy ended %s before it could be cancelled", rs.Status.Phase)
		}
		return rs.Status.Progress != nil && rs.Status.Progress.ItemsRestored >= 500, nil
	})
	res := env.Ark("restore", "cancel", "copy", "--wait")
	rs := restoreFetch(t, env, "copy")
	p := rs.Status.Progress
	if res.Err != nil || rs.Status.Phase != arkv1.RestorePhaseCancelled || p == nil {
		t.Fatalf("ark restore cancel --wait: %v %+v\n%s", res.Err, rs.Status, res.Output())
	}
	// What it created: the target namespace (made before its items, not
	// counted as one) and the items the status counts.
	var created []string
	for _, o := range restoreCreatedObjects(t, env, "copy") {
		if o != "namespaces cancel-copy" {
			created = append(created, o)
		}
	}
	if p.ItemsRestored < 500 || p.ItemsRestored >= p.TotalItems || p.ItemsRestored+p.ItemsNotRestored != p.TotalItems || len(created) != p.ItemsRestored {
		t.Fatalf("status of the cancelled restore: %+v; %d items carry its label", p, len(created))
	}
	t.Logf("restore cancelled: %s", rs.Status.FailureReason)
	if d := env.MustArk("restore", "describe", "copy"); !strings.Contains(d, fmt.Sprintf("%d not restored (cancelled)", p.ItemsNotRestored)) {
		t.Fatalf("restore describe:\n%s", d)
	}
	if objs := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "full/restore-copy-"); len(objs) != 2 {
		t.Fatalf("the cancelled restore's log and results: %v", sortedKeys(objs))
	}

	// A backup cancelled while no server runs: the next one cleans up.
	env.MustArk("backup", "create", "big2", "--include-namespaces", "cancel-app")
	waitItems(env, "big2", 2000)
	env.KillServer()
	env.MustArk("backup", "cancel", "big2")
	env.StartServer()
	b = waitBackupPhase(env, "big2", 2*time.Minute, arkv1.BackupPhaseCancelled, arkv1.BackupPhaseFailed)
	if b.Status.Phase != arkv1.BackupPhaseCancelled || !strings.Contains(b.Status.FailureReason, "the Ark server stopped while it ran") {
		t.Fatalf("a backup cancelled across a restart: %+v", b.Status)
	}
	if left := bucketObjects(t, env.Cluster.MinIO, env.Bucket, "big2/"); len(left) != 0 {
		t.Fatalf("left in the bucket: %v", sortedKeys(left))
	}
	t.Logf("cancelled across a restart: %s", b.Status.FailureReason)
}
