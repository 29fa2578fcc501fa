package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/test/e2e/harness"
)

// lineageObject is one object of the fixture as the API server returned it,
// and where the tools put it in their archives.
type lineageObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
	// dir is resources/<resource>[.<group>]: core resources have no group
	// suffix.
	dir string
}

func (o lineageObject) scopePath() string {
	if ns := o.obj.GetNamespace(); ns != "" {
		return "namespaces/" + ns + "/" + o.obj.GetName() + ".json"
	}
	return "cluster/" + o.obj.GetName() + ".json"
}

// data is the object's JSON as Heptio Ark and Velero wrote it:
// json.Marshal of the unstructured content, compact, no trailing newline.
func (o lineageObject) data(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(o.obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toolEntry is a tar entry as Heptio Ark and Velero wrote them: a regular
// file of mode 0755 (no directory entries), through Go's archive/tar.
type toolEntry struct {
	name string
	data []byte
}

func toolArchive(t *testing.T, entries []toolEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o755, Size: int64(len(e.data)), ModTime: time.Date(2019, 6, 1, 2, 0, 0, 0, time.UTC)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// heptioArkArchive is a Heptio Ark archive: v0.7–v0.9 without
// metadata/version, v0.10–v0.11 with "1\n" first. Items are in backup order,
// grouped by resource.
func heptioArkArchive(t *testing.T, objs []lineageObject, version string) []byte {
	var entries []toolEntry
	if version != "" {
		entries = append(entries, toolEntry{"metadata/version", []byte(version + "\n")})
	}
	for _, o := range objs {
		entries = append(entries, toolEntry{o.dir + "/" + o.scopePath(), o.data(t)})
	}
	return toolArchive(t, entries)
}

// veleroArchive is a Velero 1.4+ archive with API group versions enabled:
// metadata/version "1.1.0\n", then every item twice, unversioned and under
// <version>-preferredversion/, and the other served versions of a group
// (others) under <version>/.
func veleroArchive(t *testing.T, objs, others []lineageObject) []byte {
	entries := []toolEntry{{"metadata/version", []byte("1.1.0\n")}}
	for _, o := range objs {
		entries = append(entries, toolEntry{o.dir + "/" + o.scopePath(), o.data(t)},
			toolEntry{o.dir + "/" + o.gvr.Version + "-preferredversion/" + o.scopePath(), o.data(t)})
	}
	for _, o := range others {
		entries = append(entries, toolEntry{o.dir + "/" + o.gvr.Version + "/" + o.scopePath(), o.data(t)})
	}
	return toolArchive(t, entries)
}

func gzipString(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// putObjects writes key -> content into bucket, creating the bucket.
func putObjects(t *testing.T, env *harness.Env, bucket string, objects map[string][]byte) {
	t.Helper()
	c := harness.S3Client(env.Cluster.MinIO)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		t.Fatalf("creating bucket %s: %v", bucket, err)
	}
	for key, data := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("writing %s/%s: %v", bucket, key, err)
		}
	}
}

// lineageComparable is an object without what a restore leaves to the new cluster:
// server-set metadata, the status, the ark-restore label, the cluster IPs of
// a Service, the old claim's UID in a PV's claim reference, and the binding
// annotations the PV controller writes again when it binds the restored
// claim.
func lineageComparable(o *unstructured.Unstructured) map[string]any {
	c := o.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	unstructured.RemoveNestedField(c.Object, "metadata", "labels", "ark-restore")
	if l, ok, _ := unstructured.NestedMap(c.Object, "metadata", "labels"); ok && len(l) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "labels")
	}
	for _, a := range []string{"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller", "volume.kubernetes.io/selected-node"} {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations", a)
	}
	if a, ok, _ := unstructured.NestedMap(c.Object, "metadata", "annotations"); ok && len(a) == 0 {
		unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
	}
	switch c.GetKind() {
	case "Service":
		unstructured.RemoveNestedField(c.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(c.Object, "spec", "clusterIPs")
	case "PersistentVolume":
		unstructured.RemoveNestedField(c.Object, "spec", "claimRef", "uid")
		unstructured.RemoveNestedField(c.Object, "spec", "claimRef", "resourceVersion")
	}
	return c.Object
}

// requireSameObject fails unless restored equals the original, field by
// field, but for what lineageComparable drops.
func requireSameObject(t *testing.T, original, restored *unstructured.Unstructured) {
	t.Helper()
	want, got := lineageComparable(original), lineageComparable(restored)
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", "  ")
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("%s %s/%s differs from the original:\noriginal: %s\nrestored: %s", original.GetKind(), original.GetNamespace(), original.GetName(), w, g)
	}
}
