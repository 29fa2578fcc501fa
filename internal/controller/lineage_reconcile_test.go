package controller

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore/memstore"
)

// veleroArchive is a Velero 1.4+ archive of namespace ns and ConfigMap
// settings in it: metadata/version "1.1.0", every item twice (unversioned
// and in v1-preferredversion/), regular files of mode 0755 with compact JSON,
// no index.
func veleroArchive(t *testing.T, ns string) []byte {
	t.Helper()
	obj := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	nsJSON := obj(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns, "uid": "u1", "resourceVersion": "7"}})
	cmJSON := obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": ns, "uid": "u2", "resourceVersion": "8", "labels": map[string]any{"app": "shop"}},
		"data":     map[string]any{"color": "blue"}})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"metadata/version", []byte("1.1.0\n")},
		{"resources/namespaces/cluster/" + ns + ".json", nsJSON},
		{"resources/namespaces/v1-preferredversion/cluster/" + ns + ".json", nsJSON},
		{"resources/configmaps/namespaces/" + ns + "/settings.json", cmJSON},
		{"resources/configmaps/v1-preferredversion/namespaces/" + ns + "/settings.json", cmJSON},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o755, Size: int64(len(e.data)), ModTime: time.Unix(1714557600, 0)}); err != nil {
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

// putVeleroBackup lays a Velero backup of namespace ns out under prefix as
// Velero does.
func putVeleroBackup(t *testing.T, m *memstore.Store, prefix, name, ns string) {
	t.Helper()
	meta := `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"` + name + `","namespace":"velero","labels":{"velero.io/storage-location":"default","velero.io/schedule-name":"daily"}},` +
		`"spec":{"includedNamespaces":["` + ns + `"],"ttl":"1h0m0s","storageLocation":"default"},` +
		`"status":{"version":1,"formatVersion":"1.1.0","phase":"Completed","expiration":"2020-01-01T00:00:00Z",` +
		`"startTimestamp":"2019-12-31T23:00:00Z","completionTimestamp":"2019-12-31T23:01:00Z","csiVolumeSnapshotsAttempted":1}}`
	dir := prefix + "/backups/" + name + "/"
	for key, body := range map[string][]byte{
		dir + name + ".tar.gz":     veleroArchive(t, ns),
		dir + name + "-logs.gz":    gzipped(t, "velero backup log\n"),
		dir + "velero-backup.json": []byte(meta),
	} {
		if err := m.PutObject(context.Background(), "ark", key, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
}

func gzipped(t *testing.T, s string) []byte {
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

func gunzipped(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// A Velero bucket under a prefix, on a real API server: sync finds the
// backup and records its origin; a restore brings the namespace back, says
// the archive could not be verified item by item, repeats what Ark does not
// restore as a warning, and keeps its log and results in the cluster; a
// backup, a deletion and an expiry write nothing into the bucket; with the
// Config's allowWritesAlongsideOtherTools, the deletion goes through and a
// restore's files go to Velero's restores/ directory.
func TestVeleroLocationIsRestoredFromAndLeftAlone(t *testing.T) {
	ctx := context.Background()
	e := newReconcilerEnv(t)
	src := e.namespace + "-shop"
	putVeleroBackup(t, e.bucket, "velero", "vb", src)
	cfg, err := e.settings.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.BackupStorageProvider.Prefix = "velero"
	e.settings.Set(cfg)
	bucketBefore := e.bucket.Keys("ark", "")

	env, err := e.settings.Environment()
	if err != nil {
		t.Fatal(err)
	}
	syncer := &BackupSyncer{Client: e.client, Namespace: e.namespace, Settings: e.settings, Log: e.log()}
	if synced := syncer.Sync(ctx, env); !slices.Equal(synced, []string{"vb"}) {
		t.Fatalf("synced %v", synced)
	}
	b := e.getBackup(t, "vb")
	if o := b.Status.Origin; o == nil || o.Layout != arkv1.BackupLayoutVelero || o.WrittenBy != "Velero" || len(o.Notes) != 1 {
		t.Fatalf("origin %+v", b.Status.Origin)
	}
	if b.Status.Phase != arkv1.BackupPhaseCompleted || !slices.Equal(b.Spec.IncludedNamespaces, []string{src}) || b.Spec.TTL.Duration != time.Hour {
		t.Fatalf("synced backup %+v", b)
	}
	// Made by Velero's schedule "daily": found as the backups of Ark's.
	var daily arkv1.BackupList
	if err := e.client.List(ctx, &daily, client.InNamespace(e.namespace), client.MatchingLabels{arkv1.ScheduleNameLabel: "daily"}); err != nil || len(daily.Items) != 1 {
		t.Fatalf("backups of schedule daily: %d, %v", len(daily.Items), err)
	}

	// Restore.
	e.newRestore(t, "r1", arkv1.RestoreSpec{BackupName: "vb"})
	e.reconcileRestore(t, "r1")
	r := e.getRestore(t, "r1")
	if r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 || r.Status.Warnings != 1 {
		t.Fatalf("restore %+v", r.Status)
	}
	for _, want := range []string{"written by Velero 1.4 or later without an index", "only its structure was checked", "no digest of the whole archive"} {
		if !strings.Contains(r.Status.UnverifiedArchive, want) {
			t.Errorf("unverifiedArchive %q lacks %q", r.Status.UnverifiedArchive, want)
		}
	}
	var cm corev1.ConfigMap
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: src, Name: "settings"}, &cm); err != nil || cm.Data["color"] != "blue" || cm.Labels["app"] != "shop" {
		t.Fatalf("restored ConfigMap %+v: %v", cm, err)
	}
	if r.Status.FilesConfigMap == "" {
		t.Fatal("the restore's files are not kept in the cluster")
	}
	var files corev1.ConfigMap
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: e.namespace, Name: r.Status.FilesConfigMap}, &files); err != nil {
		t.Fatal(err)
	}
	if len(files.OwnerReferences) != 1 || files.OwnerReferences[0].UID != r.UID {
		t.Errorf("files ConfigMap owners %+v", files.OwnerReferences)
	}
	results := map[string]arkv1.RestoreResult{}
	if err := json.Unmarshal([]byte(gunzipped(t, files.BinaryData[arkv1.RestoreFilesResultsKey])), &results); err != nil {
		t.Fatal(err)
	}
	if w := results["warnings"].Ark; len(w) != 1 || !strings.Contains(w[0], "1 CSI volume snapshot(s)") {
		t.Errorf("warnings %+v", results["warnings"])
	}
	if log := gunzipped(t, files.BinaryData[arkv1.RestoreFilesLogKey]); !strings.Contains(log, "restore finished") || !strings.Contains(log, "without an index") {
		t.Errorf("kept log:\n%s", log)
	}

	// Every option of a restore applies: a mapping and a selector.
	copyNS := src + "-copy"
	e.newRestore(t, "r-copy", arkv1.RestoreSpec{BackupName: "vb", NamespaceMapping: map[string]string{src: copyNS},
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}}})
	e.reconcileRestore(t, "r-copy")
	if rc := e.getRestore(t, "r-copy"); rc.Status.Phase != arkv1.RestorePhaseCompleted || rc.Status.Errors != 0 {
		t.Fatalf("restore with a mapping: %+v", rc.Status)
	}

	// A dry run of it: the counts in the status; the plan of each item has
	// nowhere to go in a read-only location, and a warning says so.
	e.newRestore(t, "r-dry", arkv1.RestoreSpec{BackupName: "vb", DryRun: true})
	e.reconcileRestore(t, "r-dry")
	dry := e.getRestore(t, "r-dry")
	if dry.Status.Phase != arkv1.RestorePhasePreviewed || dry.Status.Plan == nil || dry.Status.Plan.Identical+dry.Status.Plan.WouldCreate+dry.Status.Plan.Differs == 0 || dry.Status.FilesConfigMap == "" {
		t.Fatalf("dry run: %+v", dry.Status)
	}
	var dryFiles corev1.ConfigMap
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: e.namespace, Name: dry.Status.FilesConfigMap}, &dryFiles); err != nil {
		t.Fatal(err)
	}
	dryResults := map[string]arkv1.RestoreResult{}
	if err := json.Unmarshal([]byte(gunzipped(t, dryFiles.BinaryData[arkv1.RestoreFilesResultsKey])), &dryResults); err != nil {
		t.Fatal(err)
	}
	if w := dryResults["warnings"].Ark; !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, "the plan of each item was not stored") }) {
		t.Errorf("dry-run warnings %+v", w)
	}
	if err := e.client.Get(ctx, client.ObjectKey{Namespace: copyNS, Name: "settings"}, &cm); err != nil || cm.Data["color"] != "blue" {
		t.Fatalf("ConfigMap restored into %s: %+v, %v", copyNS, cm, err)
	}

	// A backup into the location fails validation naming the fix.
	e.newBackup(t, "mine", arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	e.reconcileBackup(t, "mine")
	mine := e.getBackup(t, "mine")
	if mine.Status.Phase != arkv1.BackupPhaseFailedValidation || len(mine.Status.ValidationErrors) != 1 {
		t.Fatalf("backup into a Velero location: %+v", mine.Status)
	}
	for _, want := range []string{"prefix \"velero\"", "velero/backups/vb/velero-backup.json", "read-only", "allowWritesAlongsideOtherTools: true", "bucket or prefix of Ark's own"} {
		if !strings.Contains(mine.Status.ValidationErrors[0], want) {
			t.Errorf("validation error %q lacks %q", mine.Status.ValidationErrors[0], want)
		}
	}

	// Deletion is refused, saying why and how to allow it.
	del := &DeleteBackupRequestReconciler{Client: e.client, Settings: e.settings, Log: e.log()}
	req := arkv1.NewDeleteBackupRequest(e.namespace, "vb")
	if err := e.client.Create(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := del.Reconcile(ctx, e.key(req.Name)); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(req), req); err != nil {
		t.Fatal(err)
	}
	if req.Status.Phase != arkv1.DeleteBackupRequestPhaseProcessed || len(req.Status.Errors) != 1 ||
		!strings.Contains(req.Status.Errors[0], "written by Velero") || !strings.Contains(req.Status.Errors[0], "nothing was deleted") ||
		!strings.Contains(req.Status.Errors[0], "allowWritesAlongsideOtherTools: true") {
		t.Fatalf("deletion of a Velero backup: %+v", req.Status)
	}
	if b := e.getBackup(t, "vb"); b.Status.Phase != arkv1.BackupPhaseCompleted {
		t.Fatalf("refused deletion left the backup %s", b.Status.Phase)
	}
	if after := e.bucket.Keys("ark", ""); !slices.Equal(after, bucketBefore) {
		t.Fatalf("the Velero location changed:\nbefore %v\nafter  %v", bucketBefore, after)
	}

	// The download of the backup's files works; the restore's are in the
	// cluster.
	dl := &DownloadRequestReconciler{Client: e.client, Settings: e.settings, Log: e.log()}
	for name, c := range map[string]struct {
		target       arkv1.DownloadTarget
		url, failure string
	}{
		"dl-contents": {target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Name: "vb"}, url: "mem://ark/velero/backups/vb/vb.tar.gz"},
		"dl-log":      {target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Name: "vb"}, url: "mem://ark/velero/backups/vb/vb-logs.gz"},
		"dl-restore":  {target: arkv1.DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreLog, Name: "r1"}, failure: "ConfigMap " + e.namespace + "/" + r.Status.FilesConfigMap},
	} {
		dr := &arkv1.DownloadRequest{ObjectMeta: metav1.ObjectMeta{Namespace: e.namespace, Name: name}, Spec: arkv1.DownloadRequestSpec{Target: c.target}}
		if err := e.client.Create(ctx, dr); err != nil {
			t.Fatal(err)
		}
		if _, err := dl.Reconcile(ctx, e.key(name)); err != nil {
			t.Fatal(err)
		}
		if err := e.client.Get(ctx, client.ObjectKeyFromObject(dr), dr); err != nil {
			t.Fatal(err)
		}
		if dr.Status.DownloadURL != c.url || !strings.Contains(dr.Status.FailureReason, c.failure) {
			t.Errorf("%s: %+v", name, dr.Status)
		}
	}

	// Allowed by the Config: a restore's files go to Velero's restores/, and
	// the deletion goes through.
	cfg.BackupStorageProvider.AllowWritesAlongsideOtherTools = true
	e.settings.Set(cfg)
	if err := e.client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "settings"}}); err != nil {
		t.Fatal(err)
	}
	e.newRestore(t, "r2", arkv1.RestoreSpec{BackupName: "vb", IncludedResources: []string{"configmaps"}})
	e.reconcileRestore(t, "r2")
	if r2 := e.getRestore(t, "r2"); r2.Status.Phase != arkv1.RestorePhaseCompleted || r2.Status.FilesConfigMap != "" {
		t.Fatalf("restore with writes allowed: %+v", r2.Status)
	}
	if keys := e.bucket.Keys("ark", "velero/restores/"); !slices.Equal(keys, []string{"velero/restores/r2/restore-r2-logs.gz", "velero/restores/r2/restore-r2-results.gz"}) {
		t.Fatalf("restore files at %v", keys)
	}
	// And a dry run's plan goes there too.
	e.newRestore(t, "r3", arkv1.RestoreSpec{BackupName: "vb", DryRun: true})
	e.reconcileRestore(t, "r3")
	if r3 := e.getRestore(t, "r3"); r3.Status.Phase != arkv1.RestorePhasePreviewed || r3.Status.FilesConfigMap != "" {
		t.Fatalf("dry run with writes allowed: %+v", r3.Status)
	}
	if keys := e.bucket.Keys("ark", "velero/restores/r3/"); !slices.Contains(keys, "velero/restores/r3/restore-r3-plan.gz") {
		t.Fatalf("dry-run files at %v", keys)
	}
	req2 := arkv1.NewDeleteBackupRequest(e.namespace, "vb")
	if err := e.client.Create(ctx, req2); err != nil {
		t.Fatal(err)
	}
	if _, err := del.Reconcile(ctx, e.key(req2.Name)); err != nil {
		t.Fatal(err)
	}
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(req2), req2); err != nil {
		t.Fatal(err)
	}
	if len(req2.Status.Errors) != 0 {
		t.Fatalf("allowed deletion: %+v", req2.Status)
	}
	if keys := e.bucket.Keys("ark", "velero/backups/"); len(keys) != 0 {
		t.Fatalf("left of the deleted Velero backup: %v", keys)
	}
}
