package e2e

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/cli/install"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestInstall runs the real `ark install` and `ark uninstall` against a
// local cluster on which a server (run beside it, as in the other tests)
// has backups in MinIO: install applies exactly the objects of its dry run,
// again without complaint, and the server keeps working with the Config it
// applied; uninstall removes Ark without hanging, even on a Backup with the
// legacy finalizer and no server left, and never touches the bucket.
func TestInstall(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.MustKubectl("apply", "-f", harness.RepoPath("examples", "nginx-app", "base.yaml"))
	env.MustArk("backup", "create", "before-install", "--selector", "app=nginx", "--wait")

	args := []string{"install", "--provider", "aws", "--bucket", env.Bucket, "--secret-file", env.CredsFile,
		"--config", "region=minio,s3ForcePathStyle=true,s3Url=" + env.Cluster.MinIO.Endpoint, "--image", "example.com/ark:e2e"}

	// The dry run prints what the renderer makes from the same inputs.
	dry := env.MustArk(append(args, "--dry-run", "-o", "yaml")...)
	printed, err := install.Decode([]byte(dry))
	if err != nil {
		t.Fatalf("dry run output is not YAML: %v\n%s", err, dry)
	}
	creds, err := os.ReadFile(env.CredsFile)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := install.Render(install.Options{Provider: "aws", Bucket: env.Bucket, Credentials: creds, Image: "example.com/ark:e2e",
		Config: map[string]string{"region": "minio", "s3ForcePathStyle": "true", "s3Url": env.Cluster.MinIO.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(examplesJSON(t, examplesObjectMaps(printed)), examplesJSON(t, examplesObjectMaps(rendered.Objects))) {
		t.Fatalf("ark install --dry-run printed other objects than install.Render makes")
	}

	out := env.MustArk(args...)
	for _, o := range printed {
		if !strings.Contains(out, o.GetKind()+"/"+o.GetName()) {
			t.Errorf("install did not report %s/%s:\n%s", o.GetKind(), o.GetName(), out)
		}
		examplesCheckLive(t, env, o)
	}
	// Again: server-side apply updates in place.
	env.MustArk(args...)

	// The server runs on the Config install applied.
	env.MustArk("backup", "create", "after-install", "--selector", "app=nginx", "--wait")

	// A Backup with Ark v0.7's finalizer, and no server to remove it.
	env.StopServer()
	var b arkv1.Backup
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "before-install"}, &b); err != nil {
		t.Fatal(err)
	}
	orig := b.DeepCopy()
	b.Finalizers = append(b.Finalizers, arkv1.LegacyGCFinalizer)
	if err := env.Client.Patch(ctx, &b, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	bucketBefore := examplesBucketKeys(t, env)
	if len(bucketBefore) == 0 {
		t.Fatal("the bucket is empty before uninstall")
	}

	out = env.MustArk("uninstall", "--timeout", "2m")
	for _, want := range []string{"Deployment/ark (namespace heptio-ark): deleted", "removed the legacy finalizer gc.ark.heptio.com",
		"ClusterRole/ark: deleted", "ClusterRoleBinding/ark: deleted", "Namespace/heptio-ark: deleted", "Ark is uninstalled"} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, out)
		}
	}
	examplesRequireGone(t, env, &corev1.Namespace{}, "", harness.Namespace)
	examplesRequireGone(t, env, &rbacv1.ClusterRole{}, "", "ark")
	examplesRequireGone(t, env, &rbacv1.ClusterRoleBinding{}, "", "ark")
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := env.Client.List(ctx, &crds); err != nil {
		t.Fatal(err)
	}
	if examplesArkCRDs(crds) == 0 {
		t.Error("uninstall without --crds deleted the CRDs")
	}
	if after := examplesBucketKeys(t, env); !reflect.DeepEqual(after, bucketBefore) {
		t.Errorf("uninstall changed the bucket:\nbefore %v\nafter  %v", bucketBefore, after)
	}
	// Nothing left: it succeeds again.
	env.MustArk("uninstall", "--timeout", "1m")

	// Something else holds the namespace: uninstall stops waiting at its
	// timeout and names what holds it.
	env.MustArk(args...)
	held := &corev1.ConfigMap{}
	held.Namespace, held.Name, held.Finalizers = harness.Namespace, "held", []string{"example.com/hold"}
	if err := env.Client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	r := env.Ark("uninstall", "--timeout", "30s")
	if r.Err == nil || !strings.Contains(r.Output(), "still deleting after 30s") || !strings.Contains(r.Output(), "example.com/hold") {
		t.Errorf("uninstall with a held namespace: %v\n%s", r.Err, r.Output())
	}
	if err := env.Client.Patch(ctx, held, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
		t.Fatal(err)
	}
	env.Eventually(time.Minute, "namespace heptio-ark to go once released", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: harness.Namespace}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})

	// The in-cluster MinIO holds backups: uninstall keeps it and its
	// namespace, and removes the rest of Ark one by one.
	env.MustArk("install", "--provider", "minio")
	out = env.MustArk("uninstall", "--crds", "--timeout", "2m")
	for _, want := range []string{"Deployment/minio (namespace heptio-ark): kept", "Namespace/heptio-ark: kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("uninstall output lacks %q:\n%s", want, out)
		}
	}
	var minio appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "minio"}, &minio); err != nil {
		t.Errorf("the in-cluster MinIO was deleted: %v", err)
	}
	examplesRequireGone(t, env, &appsv1.Deployment{}, harness.Namespace, "ark")
	examplesRequireGone(t, env, &corev1.Secret{}, harness.Namespace, "cloud-credentials")
	examplesRequireGone(t, env, &corev1.ServiceAccount{}, harness.Namespace, "ark")
	if err := env.Client.List(ctx, &crds); err != nil {
		t.Fatal(err)
	}
	if n := examplesArkCRDs(crds); n != 0 {
		t.Errorf("uninstall --crds left %d Ark CRDs", n)
	}
}

func examplesObjectMaps(objs []*unstructured.Unstructured) []map[string]any {
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		out[i] = o.Object
	}
	return out
}

// examplesCheckLive checks that the cluster holds o with every field o sets.
func examplesCheckLive(t *testing.T, env *harness.Env, o *unstructured.Unstructured) {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(o), live); err != nil {
		t.Errorf("%s/%s is not in the cluster after install: %v", o.GetKind(), o.GetName(), err)
		return
	}
	if err := examplesSubset("", examplesJSON(t, o.Object), examplesJSON(t, live.Object)); err != nil {
		t.Errorf("%s/%s in the cluster differs from what install printed: %v", o.GetKind(), o.GetName(), err)
	}
}

func examplesRequireGone(t *testing.T, env *harness.Env, obj client.Object, namespace, name string) {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
	if !apierrors.IsNotFound(err) {
		data, _ := json.Marshal(obj)
		t.Errorf("%T %s/%s is still there after uninstall (%v): %s", obj, namespace, name, err, data)
	}
}

func examplesArkCRDs(list apiextensionsv1.CustomResourceDefinitionList) int {
	n := 0
	for _, c := range list.Items {
		if c.Spec.Group == arkv1.SchemeGroupVersion.Group {
			n++
		}
	}
	return n
}

// examplesBucketKeys lists every object of the test's bucket with its ETag.
func examplesBucketKeys(t *testing.T, env *harness.Env) map[string]string {
	t.Helper()
	c := harness.S3Client(env.Cluster.MinIO)
	out := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(env.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing bucket %s: %v", env.Bucket, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToString(o.ETag)
		}
	}
	return out
}
