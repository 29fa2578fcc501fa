package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// restoreApply writes manifest to a file and applies it with kubectl.
func restoreApply(t *testing.T, env *harness.Env, manifest string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	writeFile(t, path, manifest)
	env.MustKubectl("apply", "-f", path)
}

// restoreFetch reads a Restore object.
func restoreFetch(t *testing.T, env *harness.Env, name string) *arkv1.Restore {
	t.Helper()
	var r arkv1.Restore
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: harness.Namespace, Name: name}, &r); err != nil {
		t.Fatalf("reading restore %s: %v", name, err)
	}
	return &r
}

// restoreRun runs `ark restore create NAME --from-backup BACKUP --wait ARGS...`
// and returns the CLI's result and the Restore as it ended.
func restoreRun(t *testing.T, env *harness.Env, name, backup string, args ...string) (harness.Result, *arkv1.Restore) {
	t.Helper()
	res := env.Ark(append([]string{"restore", "create", name, "--from-backup", backup, "--wait"}, args...)...)
	r := restoreFetch(t, env, name)
	switch r.Status.Phase {
	case arkv1.RestorePhaseCompleted, arkv1.RestorePhasePartiallyFailed, arkv1.RestorePhaseFailed, arkv1.RestorePhaseFailedValidation:
	default:
		t.Fatalf("ark restore create --wait returned while restore %s is %q: %v\n%s", name, r.Status.Phase, res.Err, res.Output())
	}
	return res, r
}

// restoreMustComplete runs a restore that must end Completed with no errors
// and exactly wantWarnings warnings.
func restoreMustComplete(t *testing.T, env *harness.Env, name, backup string, wantWarnings int, args ...string) *arkv1.Restore {
	t.Helper()
	res, r := restoreRun(t, env, name, backup, args...)
	if res.Err != nil || r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 || r.Status.Warnings != wantWarnings {
		results := restoreResultsFile(t, env, backup, name)
		t.Fatalf("restore %s: err %v, phase %s, %d warnings (want %d), %d errors (want 0)\nCLI:\n%s\nresults: %+v",
			name, res.Err, r.Status.Phase, r.Status.Warnings, wantWarnings, r.Status.Errors, res.Output(), results)
	}
	want := fmt.Sprintf("Restore %s: Completed (%d items restored, %d warnings, 0 errors)", name, r.Status.Progress.ItemsRestored, wantWarnings)
	if !strings.Contains(res.Stdout, want) {
		t.Errorf("ark restore create --wait output lacks %q:\n%s", want, res.Stdout)
	}
	return r
}

// restoreBucketFile reads one object from the bucket, or returns nil when it
// does not exist.
func restoreBucketFile(t *testing.T, env *harness.Env, key string) []byte {
	t.Helper()
	out, err := harness.S3Client(env.Cluster.MinIO).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(key)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchKey") {
			return nil
		}
		t.Fatalf("reading %s from the bucket: %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading %s from the bucket: %v", key, err)
	}
	return data
}

// restorePutBucketFile replaces one object in the bucket, behind Ark's back.
func restorePutBucketFile(t *testing.T, env *harness.Env, key string, data []byte) {
	t.Helper()
	_, err := harness.S3Client(env.Cluster.MinIO).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(env.Bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("writing %s into the bucket: %v", key, err)
	}
}

// restoreResultsFile reads restore-<name>-results.gz straight from the
// bucket; nil when there is none.
func restoreResultsFile(t *testing.T, env *harness.Env, backup, name string) map[string]arkv1.RestoreResult {
	t.Helper()
	data := restoreBucketFile(t, env, layoutRestoreResultsKey(backup, name))
	if data == nil {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("results of %s are not gzipped: %v", name, err)
	}
	results := map[string]arkv1.RestoreResult{}
	if err := json.NewDecoder(zr).Decode(&results); err != nil {
		t.Fatalf("results of %s are not JSON: %v", name, err)
	}
	return results
}

// restoreCreatedObjects lists every object of every resource the cluster
// serves that carries the ark-restore=<name> label, that is everything the
// restore created, as "resource[.group] namespace/name" (cluster-scoped:
// "resource[.group] name"), sorted.
func restoreCreatedObjects(t *testing.T, env *harness.Env, name string) []string {
	t.Helper()
	cfg := env.Cluster.RESTConfig()
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds are listed too
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var out []string
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range list.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(res.Name)
			objs, err := dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{LabelSelector: arkv1.RestoreNameLabel + "=" + name})
			if err != nil {
				t.Fatalf("listing %s: %v", gvr, err)
			}
			key := gvr.GroupResource().String()
			for _, o := range objs.Items {
				if o.GetNamespace() == "" {
					out = append(out, key+" "+o.GetName())
				} else {
					out = append(out, key+" "+o.GetNamespace()+"/"+o.GetName())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// restoreDeleteNamespace deletes a namespace and waits until it is gone.
func restoreDeleteNamespace(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	env.MustKubectl("delete", "namespace", name, "--wait=true", "--timeout=120s")
	env.Eventually(2*time.Minute, "namespace "+name+" gone", func() (bool, error) {
		err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), err
	})
}

// restoreDeletePV deletes a persistent volume at once. A bound volume is held
// by the pv-protection finalizer until its claim goes, and there is no kubelet
// to care about the volume, so the finalizer is removed.
func restoreDeletePV(t *testing.T, env *harness.Env, name string) {
	t.Helper()
	ctx := context.Background()
	var pv corev1.PersistentVolume
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &pv); err != nil {
		t.Fatalf("reading PV %s: %v", name, err)
	}
	if err := env.Client.Delete(ctx, &pv); err != nil {
		t.Fatalf("deleting PV %s: %v", name, err)
	}
	env.MustKubectl("patch", "pv", name, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	env.Eventually(time.Minute, "PV "+name+" gone", func() (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &corev1.PersistentVolume{})
		return apierrors.IsNotFound(err), err
	})
}

// restoreRequireAbsent fails when any of the objects exists.
func restoreRequireAbsent(t *testing.T, env *harness.Env, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(o), o)
		if !apierrors.IsNotFound(err) {
			t.Errorf("%T %s/%s exists (err %v), but must not", o, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// restoreDownload downloads a backup's archive with the CLI and returns its
// path.
func restoreDownload(t *testing.T, env *harness.Env, backup string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), backup+".tar.gz")
	env.MustArk("backup", "download", backup, "-o", path)
	return path
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
