package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/heptio/ark/test/e2e/harness"
)

// TestRestoreValidation: restores that cannot run end FailedValidation with
// every reason, before anything is read or created; and a backup whose
// Backup object was deleted (the bucket still has it) restores, the object
// coming back from ark-backup.json, the bucket untouched.
func TestRestoreValidation(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.EnsureNamespace("rv-app")
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rv-app", Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{"suite": "rv"}},
			Data: map[string]string{"index": fmt.Sprint(i)}}
		if err := env.Client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	restoreBackup(t, env, "rv-backup", "--include-namespaces", "rv-app", "--selector", "suite=rv")

	invalid := func(t *testing.T, name, backup string, args []string, want ...string) {
		t.Helper()
		res, r := restoreRun(t, env, name, backup, args...)
		if res.Err == nil || r.Status.Phase != arkv1.RestorePhaseFailedValidation || len(r.Status.ValidationErrors) != len(want) {
			t.Fatalf("err %v, status %+v, want FailedValidation with %d errors\n%s", res.Err, r.Status, len(want), res.Output())
		}
		for i, w := range want {
			if !strings.Contains(r.Status.ValidationErrors[i], w) || !strings.Contains(res.Output(), w) {
				t.Errorf("validation error %d and CLI output must say %q:\n%v\n%s", i, w, r.Status.ValidationErrors, res.Output())
			}
		}
		if r.Status.StartTimestamp != nil || r.Status.Progress != nil {
			t.Errorf("a restore that failed validation started: %+v", r.Status)
		}
		if out := env.MustArk("restore", "describe", name); !strings.Contains(out, "Phase:  FailedValidation") || !strings.Contains(out, "Validation errors:\n  - "+r.Status.ValidationErrors[0]) {
			t.Errorf("describe:\n%s", out)
		}
		logs := env.Ark("restore", "logs", name)
		if logs.Err == nil || !strings.Contains(logs.Stderr, fmt.Sprintf("restore %q failed validation and never ran, so it has no log:\n  %s", name, r.Status.ValidationErrors[0])) {
			t.Errorf("restore logs of a restore that failed validation: %v\n%s", logs.Err, logs.Output())
		}
	}

	t.Run("the backup does not exist", func(t *testing.T) {
		invalid(t, "rv-none", "no-such-backup", nil,
			`backup "no-such-backup" not found in namespace heptio-ark nor in bucket ark: check the name with 'ark backup get'`)
	})

	t.Run("the backup failed validation", func(t *testing.T) {
		r := env.Ark("backup", "create", "rv-invalid", "--include-namespaces", "a", "--exclude-namespaces", "a", "--wait")
		if r.Err == nil {
			t.Fatalf("invalid backup succeeded:\n%s", r.Output())
		}
		invalid(t, "rv-from-invalid", "rv-invalid", nil,
			`backup "rv-invalid" is FailedValidation, not Completed or PartiallyFailed: only a finished backup can be restored (see 'ark backup describe rv-invalid')`)
	})

	t.Run("the backup is not finished", func(t *testing.T) {
		// Metadata of a backup still being written (by another cluster
		// sharing the bucket, say), and no Backup object here.
		b := arkv1.Backup{
			TypeMeta:   metav1.TypeMeta{APIVersion: arkv1.SchemeGroupVersion.String(), Kind: "Backup"},
			ObjectMeta: metav1.ObjectMeta{Namespace: harness.Namespace, Name: "rv-unfinished"},
			Status:     arkv1.BackupStatus{Phase: arkv1.BackupPhaseInProgress, Version: 1},
		}
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		restorePutBucketFile(t, env, layoutMetadataKey("rv-unfinished"), data)
		invalid(t, "rv-from-unfinished", "rv-unfinished", nil,
			`backup "rv-unfinished" is InProgress, not Completed or PartiallyFailed`)
	})

	t.Run("invalid filters: every problem listed", func(t *testing.T) {
		invalid(t, "rv-filters", "rv-backup",
			[]string{"--include-namespaces", "rv-app", "--exclude-namespaces", "rv-app", "--include-resources", "configmaps,flux-capacitors", "--exclude-resources", "configmaps"},
			`namespace "rv-app" is both included and excluded`,
			`resource "configmaps" is both included and excluded`,
			`unknown resource "flux-capacitors"`)
	})

	t.Run("the Backup object is gone, the bucket still has it", func(t *testing.T) {
		orig := restoreFetchBackup(t, env, "rv-backup")
		stored := restoreBucketETags(t, env, "rv-backup/")
		if len(stored) != 3 {
			t.Fatalf("bucket holds %v for rv-backup", stored)
		}
		env.MustKubectl("-n", harness.Namespace, "delete", "backup", "rv-backup", "--wait=true", "--timeout=60s")
		env.Eventually(time.Minute, "Backup rv-backup gone", func() (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "rv-backup"}, &arkv1.Backup{})
			return apierrors.IsNotFound(err), err
		})
		if now := restoreBucketETags(t, env, "rv-backup/"); fmt.Sprint(now) != fmt.Sprint(stored) {
			t.Fatalf("deleting the Backup object changed the bucket:\nbefore %v\nafter  %v", stored, now)
		}
		restoreDeleteNamespace(t, env, "rv-app")

		restoreMustComplete(t, env, "rv-from-bucket", "rv-backup", 0)
		want := []string{"configmaps rv-app/cm-0", "configmaps rv-app/cm-1", "configmaps rv-app/cm-2", "namespaces rv-app"}
		if got := restoreCreatedObjects(t, env, "rv-from-bucket"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("restore created %v, want %v", got, want)
		}
		for i := range 3 {
			var cm corev1.ConfigMap
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rv-app", Name: fmt.Sprintf("cm-%d", i)}, &cm); err != nil || cm.Data["index"] != fmt.Sprint(i) {
				t.Errorf("cm-%d: %v %v", i, err, cm.Data)
			}
		}

		// The Backup object is back, as it was written, and was not run
		// again: the bucket has the same files plus the restore's two.
		b := restoreFetchBackup(t, env, "rv-backup")
		if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.Archive == nil || *b.Status.Archive != *orig.Status.Archive ||
			!b.Status.CompletionTimestamp.Equal(orig.Status.CompletionTimestamp) {
			t.Errorf("recreated Backup status %+v\nwant as before: %+v", b.Status, orig.Status)
		}
		now := restoreBucketETags(t, env, "rv-backup/")
		for k, etag := range stored {
			if now[k] != etag {
				t.Errorf("%s changed in the bucket: %q -> %q", k, etag, now[k])
			}
		}
		for _, k := range []string{layoutRestoreLogKey("rv-backup", "rv-from-bucket"), layoutRestoreResultsKey("rv-backup", "rv-from-bucket")} {
			if _, ok := now[k]; !ok {
				t.Errorf("bucket lacks %s", k)
			}
		}
		if len(now) != len(stored)+2 {
			t.Errorf("bucket under rv-backup/: %v", now)
		}
		if n := strings.Count(env.ServerLog(), `msg="backup started" backup=heptio-ark/rv-backup`); n != 1 {
			t.Errorf("backup rv-backup was started %d times; once is right", n)
		}
	})
}

// restoreBackup runs `ark backup create NAME --wait ARGS...` and fails unless
// the backup Completed.
func restoreBackup(t *testing.T, env *harness.Env, name string, args ...string) {
	t.Helper()
	out := env.MustArk(append([]string{"backup", "create", name, "--wait"}, args...)...)
	if !strings.Contains(out, "Backup "+name+": Completed") {
		t.Fatalf("backup %s did not complete:\n%s", name, out)
	}
}

func restoreFetchBackup(t *testing.T, env *harness.Env, name string) *arkv1.Backup {
	t.Helper()
	var b arkv1.Backup
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &b); err != nil {
		t.Fatalf("reading backup %s: %v", name, err)
	}
	return &b
}

// restoreBucketETags returns key -> ETag of the objects under prefix.
func restoreBucketETags(t *testing.T, env *harness.Env, prefix string) map[string]string {
	t.Helper()
	out, err := harness.S3Client(env.Cluster.MinIO).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(env.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("listing %s: %v", prefix, err)
	}
	m := map[string]string{}
	for _, o := range out.Contents {
		m[aws.ToString(o.Key)] = aws.ToString(o.ETag)
	}
	return m
}
