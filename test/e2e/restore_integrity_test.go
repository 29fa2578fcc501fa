package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestRestoreIntegrity damages a backup's archive in object storage in the
// ways storage, transfers and people damage files, and restores it each
// time: every restore fails with a reason that says what is wrong and
// creates nothing at all. The undamaged archive, put back, restores.
func TestRestoreIntegrity(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.EnsureNamespace("ri-app")
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ri-app", Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{"suite": "ri"}},
			Data: map[string]string{"index": fmt.Sprint(i)}}
		if err := env.Client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	restoreBackup(t, env, "ri-backup", "--include-namespaces", "ri-app", "--selector", "suite=ri")
	b := restoreFetchBackup(t, env, "ri-backup")
	key := layoutArchiveKey("ri-backup")
	original := restoreBucketFile(t, env, key)
	if b.Status.Archive == nil || int64(len(original)) != b.Status.Archive.Size {
		t.Fatalf("status.archive %+v, archive in the bucket has %d bytes", b.Status.Archive, len(original))
	}
	restoreDeleteNamespace(t, env, "ri-app")

	flipped := bytes.Clone(original)
	flipped[len(flipped)/2] ^= 0xff
	cases := []struct {
		name    string
		archive []byte
		reason  []string
	}{
		{"garbage", bytes.Repeat([]byte("this is not a backup archive\n"), 100),
			[]string{`the archive of backup "ri-backup" is not usable, nothing was restored`}},
		{"flipped", flipped,
			[]string{`the archive of backup "ri-backup" is not usable, nothing was restored`}},
		{"truncated", original[:len(original)/2],
			[]string{`the archive of backup "ri-backup" is not usable, nothing was restored`}},
		// A well-formed archive whose index lists a digest its entry does
		// not have.
		{"index-lies", restoreRewriteIndex(t, original),
			[]string{`the archive of backup "ri-backup" is not usable, nothing was restored`}},
		// A well-formed archive, consistent with its own index, but not
		// the one the backup wrote: one object edited, one added.
		{"rebuilt", restoreRebuildArchive(t, original),
			[]string{`the archive of backup "ri-backup" is not the one the backup wrote, nothing was restored: archive digest mismatch`,
				"the backup's recorded sha256 is " + b.Status.Archive.SHA256}},
	}
	for _, tc := range cases {
		restorePutBucketFile(t, env, key, tc.archive)
		name := "ri-" + tc.name
		res, r := restoreRun(t, env, name, "ri-backup")
		if res.Err == nil || r.Status.Phase != arkv1.RestorePhaseFailed {
			t.Errorf("%s: restore %s: err %v, status %+v\n%s", tc.name, r.Status.Phase, res.Err, r.Status, res.Output())
			continue
		}
		t.Logf("%s: %s", tc.name, r.Status.FailureReason)
		for _, want := range tc.reason {
			if !strings.Contains(r.Status.FailureReason, want) || !strings.Contains(res.Output(), want) {
				t.Errorf("%s: failure reason and CLI output must say %q:\nreason: %s\nCLI: %s", tc.name, want, r.Status.FailureReason, res.Output())
			}
		}
		if created := restoreCreatedObjects(t, env, name); len(created) != 0 {
			t.Errorf("%s: a failed restore created %v", tc.name, created)
		}
		restoreRequireAbsent(t, env, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ri-app"}})
		if out := env.MustArk("restore", "describe", name); !strings.Contains(out, "Phase:  Failed") || !strings.Contains(out, "Failure reason: "+r.Status.FailureReason) {
			t.Errorf("%s: describe:\n%s", tc.name, out)
		}
		if logs := env.MustArk("restore", "logs", name); !strings.Contains(logs, `msg="restore failed"`) || !strings.Contains(logs, "nothing was restored") {
			t.Errorf("%s: restore log:\n%s", tc.name, logs)
		}
		if restoreResultsFile(t, env, "ri-backup", name) != nil {
			t.Errorf("%s: a restore that never started has a results file", tc.name)
		}
	}
	if t.Failed() {
		return
	}

	// The archive the backup wrote restores, with the data it had.
	restorePutBucketFile(t, env, key, original)
	restoreMustComplete(t, env, "ri-good", "ri-backup", 0)
	want := []string{"configmaps ri-app/cm-0", "configmaps ri-app/cm-1", "configmaps ri-app/cm-2", "namespaces ri-app"}
	if got := restoreCreatedObjects(t, env, "ri-good"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restore of the intact archive created %v, want %v", got, want)
	}
	for i := range 3 {
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "ri-app", Name: fmt.Sprintf("cm-%d", i)}, &cm); err != nil || cm.Data["index"] != fmt.Sprint(i) {
			t.Errorf("cm-%d: %v %v", i, err, cm.Data)
		}
	}
}

// restoreRebuildArchive reads a backup archive and writes a new, valid one
// with Ark's own archive writer: cm-1's data changed and a config map
// "intruder" added, with an index that matches.
func restoreRebuildArchive(t *testing.T, original []byte) []byte {
	t.Helper()
	r, err := archive.NewReader(bytes.NewReader(original), archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := archive.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	edited := false
	for {
		item, data, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if item.Resource == "configmaps" && item.Name == "cm-1" {
			data = bytes.Replace(data, []byte(`"index":"1"`), []byte(`"index":"tampered"`), 1)
			edited = true
			intruder := bytes.Replace(data, []byte(`"name":"cm-1"`), []byte(`"name":"intruder"`), 1)
			if err := w.Add(archive.Item{Resource: "configmaps", Namespace: item.Namespace, Name: "intruder"}, intruder); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Add(item, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !edited {
		t.Fatal("the archive has no cm-1 to tamper with")
	}
	restoreCheckWellFormed(t, out.Bytes(), "intruder")
	return out.Bytes()
}

// restoreRewriteIndex copies a backup archive entry by entry, but the index
// claims another digest for the first item.
func restoreRewriteIndex(t *testing.T, original []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "metadata/index.json" {
			var index map[string]any
			if err := json.Unmarshal(data, &index); err != nil {
				t.Fatal(err)
			}
			items := index["items"].([]any)
			items[0].(map[string]any)["sha256"] = strings.Repeat("0", 64)
			if data, err = json.Marshal(index); err != nil {
				t.Fatal(err)
			}
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// restoreCheckWellFormed checks, independently of Ark's reader, that an
// archive is a valid gzipped tar whose index matches its entries and that it
// has an entry whose path contains want.
func restoreCheckWellFormed(t *testing.T, data []byte, want string) {
	t.Helper()
	path := t.TempDir() + "/rebuilt.tar.gz"
	writeFile(t, path, string(data))
	for p := range tarEntries(t, path) {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Fatalf("rebuilt archive has no entry %s", want)
}
