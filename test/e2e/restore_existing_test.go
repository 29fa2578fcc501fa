package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/test/e2e/harness"
)

// TestRestoreExistingObjects restores a backup over a namespace that still
// has most of its objects, some changed since: the changed and unchanged ones
// are left exactly as they are and reported as warnings of their namespace,
// the deleted one comes back, and the restore is Completed with warnings.
// The same restore then goes through describe, get -o json, logs and delete.
func TestRestoreExistingObjects(t *testing.T) {
	t.Parallel()
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.EnsureNamespace("rx-app")
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-app", Name: "changed"}, Data: map[string]string{"v": "backed-up"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-app", Name: "deleted"}, Data: map[string]string{"v": "backed-up"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-app", Name: "creds"}, StringData: map[string]string{"password": "hunter2"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-app", Name: "robot"}},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for what the controller-manager adds to every namespace, so the
	// backup has them (and the restore finds them there).
	env.Eventually(2*time.Minute, "default service account and kube-root-ca.crt in rx-app", func() (bool, error) {
		err1 := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "default"}, &corev1.ServiceAccount{})
		err2 := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "kube-root-ca.crt"}, &corev1.ConfigMap{})
		return err1 == nil && err2 == nil, nil
	})
	restoreBackup(t, env, "rx-backup", "--include-namespaces", "rx-app")

	var changed corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "changed"}, &changed); err != nil {
		t.Fatal(err)
	}
	changed.Data["v"] = "changed after the backup"
	if err := env.Client.Update(ctx, &changed); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-app", Name: "deleted"}}); err != nil {
		t.Fatal(err)
	}
	before := restoreSnapshotNamespace(t, env, "rx-app")
	if len(before) != 6 { // the namespace, 2 config maps, the secret, 2 service accounts
		t.Fatalf("rx-app before the restore: %v", before)
	}

	res, r := restoreRun(t, env, "rx-restore", "rx-backup")
	if res.Err != nil || r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Warnings != 5 || r.Status.Errors != 0 {
		t.Fatalf("restore: err %v, status %+v\n%s", res.Err, r.Status, res.Output())
	}
	for _, want := range []string{
		"Restore rx-restore: Completed (1 items restored, 5 warnings, 0 errors)",
		"Run `ark restore describe rx-restore` to see the warnings.",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("ark restore create --wait output lacks %q:\n%s", want, res.Stdout)
		}
	}

	// Only the deleted config map was created; everything else is as it was.
	if got := restoreCreatedObjects(t, env, "rx-restore"); strings.Join(got, ",") != "configmaps rx-app/deleted" {
		t.Fatalf("the restore created %v, want only configmaps rx-app/deleted", got)
	}
	var back corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "deleted"}, &back); err != nil || back.Data["v"] != "backed-up" {
		t.Fatalf("deleted config map not restored with its data: %v %v", err, back.Data)
	}
	after := restoreSnapshotNamespace(t, env, "rx-app")
	for key, rv := range before {
		if after[key] != rv {
			t.Errorf("%s changed: resourceVersion %s -> %q", key, rv, after[key])
		}
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "changed"}, &changed); err != nil || changed.Data["v"] != "changed after the backup" {
		t.Fatalf("existing config map was overwritten: %v %v", err, changed.Data)
	}

	// The results file: one warning per existing object, under its namespace.
	wantWarnings := []string{
		"ConfigMap rx-app/changed already exists, left as it is (never overwritten)",
		"ConfigMap rx-app/kube-root-ca.crt already exists, left as it is (never overwritten)",
		"Secret rx-app/creds already exists, left as it is (never overwritten)",
		"ServiceAccount rx-app/default already exists, left as it is (never overwritten)",
		"ServiceAccount rx-app/robot already exists, left as it is (never overwritten)",
	}
	results := restoreResultsFile(t, env, "rx-backup", "rx-restore")
	w, e := results["warnings"], results["errors"]
	if len(w.Ark)+len(w.Cluster) != 0 || len(w.Namespaces) != 1 || strings.Join(w.Namespaces["rx-app"], "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings in the results file:\n%+v\nwant, under rx-app:\n%s", w, strings.Join(wantWarnings, "\n"))
	}
	if len(e.Ark)+len(e.Cluster)+len(e.Namespaces) != 0 {
		t.Errorf("errors in the results file: %+v", e)
	}

	// describe reads the same file through a DownloadRequest.
	out := env.MustArk("restore", "describe", "rx-restore")
	wantDescribe := "\nWarnings:\n  Namespace rx-app:\n    " + strings.Join(wantWarnings, "\n    ") + "\n"
	for _, want := range []string{"Name:         rx-restore", "Backup:       rx-backup", "Phase:  Completed",
		"Progress:   1 of 6 items restored", "Warnings:  5", "Errors:    0", wantDescribe} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\nErrors:\n") {
		t.Errorf("describe has an errors section with no errors:\n%s", out)
	}

	// get, as a table and as JSON.
	out = env.MustArk("restore", "get")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || strings.Join(strings.Fields(lines[1])[:6], " ") != "rx-restore rx-backup Completed 1 5 0" {
		t.Errorf("restore get:\n%s", out)
	}
	var got arkv1.Restore
	if err := json.Unmarshal([]byte(env.MustArk("restore", "get", "rx-restore", "-o", "json")), &got); err != nil {
		t.Fatalf("restore get -o json: %v", err)
	}
	if got.Kind != "Restore" || got.APIVersion != "ark.heptio.com/v1" || got.Name != "rx-restore" || got.Spec.BackupName != "rx-backup" ||
		got.Labels[arkv1.BackupNameLabel] != "rx-backup" || got.Status.Phase != arkv1.RestorePhaseCompleted ||
		got.Status.Warnings != 5 || got.Status.Errors != 0 || got.Status.Progress == nil ||
		got.Status.Progress.ItemsRestored != 1 || got.Status.Progress.TotalItems != 6 ||
		got.Status.StartTimestamp == nil || got.Status.CompletionTimestamp == nil {
		t.Errorf("restore get -o json: %+v", got)
	}
	var list arkv1.RestoreList
	if err := json.Unmarshal([]byte(env.MustArk("restore", "get", "-o", "json")), &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "rx-restore" {
		t.Errorf("restore get -o json (all): %v %+v", err, list)
	}

	// logs: the server's log of this restore, from object storage.
	logs := env.MustArk("restore", "logs", "rx-restore")
	for _, want := range append([]string{"archive verified", "restoring resource", "restore finished"}, wantWarnings...) {
		if !strings.Contains(logs, want) {
			t.Errorf("restore log lacks %q:\n%s", want, logs)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.Contains(line, "rx-restore") {
			t.Errorf("restore log has a line of something else: %s", line)
		}
	}

	// delete: the Restore goes; what it restored and its files stay.
	if out := env.MustArk("restore", "delete", "rx-restore"); !strings.Contains(out, `Restore "rx-restore" deleted.`) {
		t.Errorf("restore delete:\n%s", out)
	}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: harness.Namespace, Name: "rx-restore"}, &arkv1.Restore{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("restore still there after delete: %v", err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "rx-app", Name: "deleted"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("restored config map gone with the restore: %v", err)
	}
	for _, key := range []string{layoutRestoreLogKey("rx-backup", "rx-restore"), layoutRestoreResultsKey("rx-backup", "rx-restore")} {
		if restoreBucketFile(t, env, key) == nil {
			t.Errorf("%s gone with the restore", key)
		}
	}
	if r := env.Ark("restore", "delete"); r.Err == nil || !strings.Contains(r.Stderr, "name the restores to delete") {
		t.Errorf("restore delete without names: %v\n%s", r.Err, r.Output())
	}

	// A target namespace that is being deleted (an object's finalizer holds
	// it) cannot take the restore's items: one error for the namespace, the
	// restore PartiallyFailed, describe lists the error.
	env.EnsureNamespace("rx-dying")
	held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "rx-dying", Name: "held", Finalizers: []string{"example.com/hold"}}}
	if err := env.Client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.Patch(context.Background(), held, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	})
	if err := env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rx-dying"}}); err != nil {
		t.Fatal(err)
	}
	res, r = restoreRun(t, env, "rx-dying", "rx-backup", "--namespace-mappings", "rx-app:rx-dying")
	wantError := "namespace rx-dying could not be created, so none of its items were restored: it is being deleted; wait until it is gone (kubectl get namespace rx-dying), then restore again, or map it to another namespace with namespaceMapping"
	if res.Err == nil || r.Status.Phase != arkv1.RestorePhasePartiallyFailed || r.Status.Errors != 1 || r.Status.Warnings != 0 {
		t.Fatalf("restore into a terminating namespace: err %v, status %+v\n%s", res.Err, r.Status, res.Output())
	}
	if !strings.Contains(res.Output(), "restore rx-dying is PartiallyFailed: run `ark restore describe rx-dying` and `ark restore logs rx-dying` for the reasons") {
		t.Errorf("CLI output:\n%s", res.Output())
	}
	results = restoreResultsFile(t, env, "rx-backup", "rx-dying")
	if e := results["errors"]; len(e.Namespaces) != 1 || strings.Join(e.Namespaces["rx-dying"], "|") != wantError || len(e.Cluster)+len(e.Ark) != 0 {
		t.Errorf("errors in the results file: %+v", e)
	}
	if created := restoreCreatedObjects(t, env, "rx-dying"); len(created) != 0 {
		t.Errorf("the restore created %v", created)
	}
	out = env.MustArk("restore", "describe", "rx-dying")
	if !strings.Contains(out, "Phase:  PartiallyFailed") || !strings.Contains(out, "\nErrors:\n  Namespace rx-dying:\n    "+wantError+"\n") {
		t.Errorf("describe:\n%s", out)
	}
}
