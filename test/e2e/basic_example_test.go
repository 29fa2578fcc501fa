package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestBasicExample runs the docs' basic example word for word: deploy the
// nginx app, back it up by label, delete its namespace, restore, and check
// every object came back.
func TestBasicExample(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()

	env.MustKubectl("apply", "-f", harness.RepoPath("examples", "nginx-app", "base.yaml"))
	var origDeploy appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "nginx-deployment"}, &origDeploy); err != nil {
		t.Fatal(err)
	}
	// An object without the label stays out of the backup.
	env.MustKubectl("-n", "nginx-example", "create", "configmap", "unlabelled", "--from-literal=a=b")

	out := env.MustArk("backup", "create", "nginx-backup", "--selector", "app=nginx", "--wait")
	if !strings.Contains(out, "Backup nginx-backup: Completed") {
		t.Fatalf("backup did not complete:\n%s", out)
	}

	// The bucket holds the three files of the original layout.
	s3c := harness.S3Client(env.Cluster.MinIO)
	for _, key := range []string{"nginx-backup/ark-backup.json", "nginx-backup/nginx-backup.tar.gz", "nginx-backup/nginx-backup-logs.gz"} {
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(key)}); err != nil {
			t.Fatalf("bucket lacks %s: %v", key, err)
		}
	}

	// The downloaded archive has exactly the labelled objects, and the
	// digest the Backup records.
	tarball := filepath.Join(t.TempDir(), "nginx.tar.gz")
	env.MustArk("backup", "download", "nginx-backup", "-o", tarball)
	// It holds the backup's Secrets: private to the user who downloaded it.
	if info, err := os.Stat(tarball); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("downloaded archive: %v, mode %v; want 0600", err, info.Mode())
	}
	entries := tarEntries(t, tarball)
	for _, want := range []string{
		"resources/namespaces/cluster/nginx-example.json",
		"resources/deployments.apps/namespaces/nginx-example/nginx-deployment.json",
		"resources/services/namespaces/nginx-example/my-nginx.json",
	} {
		if _, ok := entries[want]; !ok {
			t.Errorf("archive lacks %s; it has %v", want, keys(entries))
		}
	}
	for name := range entries {
		if strings.Contains(name, "unlabelled") {
			t.Errorf("archive has %s, which does not match the selector", name)
		}
	}
	var stored appsv1.Deployment
	if err := json.Unmarshal(entries["resources/deployments.apps/namespaces/nginx-example/nginx-deployment.json"], &stored); err != nil {
		t.Fatal(err)
	}
	if stored.UID != origDeploy.UID || *stored.Spec.Replicas != 2 {
		t.Fatalf("archived deployment is not the live one: %+v", stored.ObjectMeta)
	}
	var b arkv1.Backup
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "nginx-backup"}, &b); err != nil {
		t.Fatal(err)
	}
	sum, size := fileSHA256(t, tarball)
	if b.Status.Archive == nil || b.Status.Archive.SHA256 != sum || b.Status.Archive.Size != size {
		t.Fatalf("status.archive = %+v, downloaded archive has sha256 %s size %d", b.Status.Archive, sum, size)
	}
	if b.Status.Phase != arkv1.BackupPhaseCompleted || b.Status.StartTimestamp == nil || b.Status.CompletionTimestamp == nil || b.Status.Expiration == nil {
		t.Fatalf("incomplete status: %+v", b.Status)
	}
	if logs := env.MustArk("backup", "logs", "nginx-backup"); !strings.Contains(logs, "backup finished") {
		t.Fatalf("backup log lacks its end:\n%s", logs)
	}

	// Disaster.
	env.MustKubectl("delete", "namespaces", "nginx-example", "--wait=true", "--timeout=120s")
	env.Eventually(2*time.Minute, "namespace nginx-example gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: "nginx-example"}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})

	out = env.MustArk("restore", "create", "nginx-backup", "--wait")
	if !strings.Contains(out, ": Completed") {
		t.Fatalf("restore did not complete:\n%s", out)
	}

	var ns corev1.Namespace
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "nginx-example"}, &ns); err != nil {
		t.Fatalf("namespace not restored: %v", err)
	}
	if ns.Labels["app"] != "nginx" {
		t.Errorf("namespace labels not restored: %v", ns.Labels)
	}
	var deploy appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "nginx-deployment"}, &deploy); err != nil {
		t.Fatalf("deployment not restored: %v", err)
	}
	if *deploy.Spec.Replicas != 2 || deploy.Spec.Template.Spec.Containers[0].Image != "nginx:1.7.9" || deploy.UID == origDeploy.UID {
		t.Errorf("restored deployment differs: replicas %d image %s", *deploy.Spec.Replicas, deploy.Spec.Template.Spec.Containers[0].Image)
	}
	if !strings.HasPrefix(deploy.Labels[arkv1.RestoreNameLabel], "nginx-backup-") {
		t.Errorf("restored deployment lacks the ark-restore label: %v", deploy.Labels)
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "my-nginx"}, &svc); err != nil {
		t.Fatalf("service not restored: %v", err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Ports[0].Port != 80 {
		t.Errorf("restored service differs: %+v", svc.Spec)
	}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: "nginx-example", Name: "unlabelled"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the unlabelled configmap was not in the backup, yet: %v", err)
	}

	// describe and get work on the result.
	if out := env.MustArk("restore", "get"); !strings.Contains(out, "nginx-backup") || !strings.Contains(out, "Completed") {
		t.Errorf("restore get:\n%s", out)
	}
	if out := env.MustArk("get", "backups", "-o", "json"); !strings.Contains(out, `"kind": "Backup"`) {
		t.Errorf("get backups -o json:\n%s", out)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
