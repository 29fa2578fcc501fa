package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/localcluster"
	"github.com/heptio/ark/test/e2e/harness"
)

// lineageFixture is what the three tools backed up: a CRD served in two
// versions and custom resources of it, RBAC of both scopes, a PV bound to a
// PVC, a Secret and a Service, in namespace lin-app.
const lineageFixture = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.lineage.example.com}
spec:
  group: lineage.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: lin-app, labels: {team: shop}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lineage-widget-reader, labels: {suite: lineage}}
rules:
- apiGroups: [lineage.example.com]
  resources: [widgets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: lineage-widget-readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lineage-widget-reader}
subjects:
- {kind: ServiceAccount, name: default, namespace: lin-app}
- {kind: User, apiGroup: rbac.authorization.k8s.io, name: "corp\\alice"}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: lineage-pv, labels: {suite: lineage}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: lineage-manual
  hostPath: {path: /tmp/lineage-pv}
  claimRef: {namespace: lin-app, name: data}
`

const lineageNamespaced = `
apiVersion: lineage.example.com/v1
kind: Widget
metadata: {name: small, namespace: lin-app, labels: {size: s}}
spec: {size: 1, color: red}
---
apiVersion: lineage.example.com/v1
kind: Widget
metadata: {name: large, namespace: lin-app}
spec: {size: 42, color: blue}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: config-reader, namespace: lin-app}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: config-readers, namespace: lin-app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}
subjects:
- {kind: ServiceAccount, name: default, namespace: lin-app}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: lin-app}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: lineage-manual
  volumeName: lineage-pv
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: lin-app}
type: Opaque
stringData: {password: hunter2, token: "line1\nline2"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: lin-app, annotations: {team: shop}}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
`

func lineageGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// lineageCapture reads every object of the fixture as the API server serves
// it, in the order the tools backed resources up (grouped by resource, not
// sorted), and the Widgets in their other served version.
func lineageCapture(t *testing.T, env *harness.Env) (objs, otherVersions []lineageObject) {
	t.Helper()
	ctx := context.Background()
	get := func(gvr schema.GroupVersionResource, dir, ns, name string) lineageObject {
		o, err := env.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading %s %s/%s: %v", gvr, ns, name, err)
		}
		return lineageObject{gvr: gvr, obj: o, dir: "resources/" + dir}
	}
	widgets := lineageGVR("lineage.example.com", "v1", "widgets")
	objs = []lineageObject{
		get(lineageGVR("", "v1", "services"), "services", "lin-app", "web"),
		get(widgets, "widgets.lineage.example.com", "lin-app", "small"),
		get(widgets, "widgets.lineage.example.com", "lin-app", "large"),
		get(lineageGVR("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "customresourcedefinitions.apiextensions.k8s.io", "", "widgets.lineage.example.com"),
		get(lineageGVR("", "v1", "secrets"), "secrets", "lin-app", "creds"),
		get(lineageGVR("rbac.authorization.k8s.io", "v1", "roles"), "roles.rbac.authorization.k8s.io", "lin-app", "config-reader"),
		get(lineageGVR("rbac.authorization.k8s.io", "v1", "rolebindings"), "rolebindings.rbac.authorization.k8s.io", "lin-app", "config-readers"),
		get(lineageGVR("", "v1", "persistentvolumeclaims"), "persistentvolumeclaims", "lin-app", "data"),
		get(lineageGVR("", "v1", "persistentvolumes"), "persistentvolumes", "", "lineage-pv"),
		get(lineageGVR("rbac.authorization.k8s.io", "v1", "clusterroles"), "clusterroles.rbac.authorization.k8s.io", "", "lineage-widget-reader"),
		get(lineageGVR("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), "clusterrolebindings.rbac.authorization.k8s.io", "", "lineage-widget-readers"),
		get(lineageGVR("", "v1", "namespaces"), "namespaces", "", "lin-app"),
	}
	beta := lineageGVR("lineage.example.com", "v1beta1", "widgets")
	otherVersions = []lineageObject{
		get(beta, "widgets.lineage.example.com", "lin-app", "small"),
		get(beta, "widgets.lineage.example.com", "lin-app", "large"),
	}
	return objs, otherVersions
}

// lineageDelete removes everything of the fixture from the cluster.
func lineageDelete(t *testing.T, env *harness.Env) {
	t.Helper()
	restoreDeleteNamespace(t, env, "lin-app")
	// The PV protection controller lets the volume go once its claim is
	// gone; the finalizer is removed in case it has not yet.
	env.MustKubectl("delete", "pv", "lineage-pv", "--wait=false")
	_ = env.Kubectl("patch", "pv", "lineage-pv", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	env.Eventually(time.Minute, "PV lineage-pv gone", func() (bool, error) {
		err := env.Client.Get(context.Background(), client.ObjectKey{Name: "lineage-pv"}, &corev1.PersistentVolume{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	env.MustKubectl("delete", "crd", "widgets.lineage.example.com", "--wait=true", "--timeout=120s")
	env.MustKubectl("delete", "clusterrole", "lineage-widget-reader")
	env.MustKubectl("delete", "clusterrolebinding", "lineage-widget-readers")
}

// lineageRequireRestored compares every object with its original, once the
// restored claim is bound again.
func lineageRequireRestored(t *testing.T, env *harness.Env, objs []lineageObject) {
	t.Helper()
	ctx := context.Background()
	env.Eventually(time.Minute, "the restored PVC bound", func() (bool, error) {
		var pvc corev1.PersistentVolumeClaim
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "lin-app", Name: "data"}, &pvc)
		return err == nil && pvc.Status.Phase == corev1.ClaimBound, err
	})
	for _, o := range objs {
		got, err := env.Dynamic.Resource(o.gvr).Namespace(o.obj.GetNamespace()).Get(ctx, o.obj.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s %s/%s was not restored: %v", o.gvr.Resource, o.obj.GetNamespace(), o.obj.GetName(), err)
			continue
		}
		requireSameObject(t, o.obj, got)
	}
}

// lineageRestore deletes the fixture, restores backup with the CLI and
// checks every object, the restore's unverified-archive note (once, in the
// status and in describe) and its log; it returns the Restore.
func lineageRestore(t *testing.T, env *harness.Env, objs []lineageObject, backup, origin string) *arkv1.Restore {
	t.Helper()
	lineageDelete(t, env)
	name := "r-" + backup
	res, r := restoreRun(t, env, name, backup)
	// The only warnings: the fixture's ClusterRole and ClusterRoleBinding,
	// which every restore that creates cluster-wide grants lists.
	if res.Err != nil || r.Status.Phase != arkv1.RestorePhaseCompleted || r.Status.Errors != 0 || r.Status.Warnings != 2 {
		t.Fatalf("restore of %s: %v, %+v\n%s\n%s", backup, res.Err, r.Status, res.Output(), env.MustArk("restore", "describe", name))
	}
	if d := env.MustArk("restore", "describe", name); !strings.Contains(d, "created ClusterRole lineage-widget-reader") || !strings.Contains(d, "created ClusterRoleBinding lineage-widget-readers") {
		t.Errorf("ark restore describe %s does not list the cluster-wide grants created:\n%s", name, d)
	}
	// The namespace is created ahead of the items and not counted.
	if want := fmt.Sprintf("Restore %s: Completed (%d items restored, 2 warnings, 0 errors)", name, len(objs)-1); !strings.Contains(res.Stdout, want) {
		t.Errorf("ark restore create --wait output lacks %q:\n%s", want, res.Stdout)
	}
	lineageRequireRestored(t, env, objs)

	note := "the archive was written by " + origin + " without an index, so only its structure was checked, not each item's content; the backup records no digest of the whole archive either"
	if r.Status.UnverifiedArchive != note {
		t.Errorf("restore status unverifiedArchive = %q, want %q", r.Status.UnverifiedArchive, note)
	}
	describe := env.MustArk("restore", "describe", name)
	if strings.Count(describe, "without an index") != 1 || !strings.Contains(describe, "Archive check:  "+note) {
		t.Errorf("ark restore describe does not say once that the archive is unverified:\n%s", describe)
	}
	if log := env.MustArk("restore", "logs", name); !strings.Contains(log, "restore finished") || !strings.Contains(log, "without an index") {
		t.Errorf("ark restore logs %s:\n%s", name, log)
	}
	return r
}

// lineageRequireListed waits until `ark backup get` lists backup with its
// origin, and describe says where it came from.
func lineageRequireListed(t *testing.T, env *harness.Env, backup, origin, layout string) {
	t.Helper()
	env.Eventually(time.Minute, "backup "+backup+" synced", func() (bool, error) {
		_, err := getBackup(env, backup)
		return err == nil, client.IgnoreNotFound(err)
	})
	b := waitBackupPhase(env, backup, 30*time.Second, arkv1.BackupPhaseCompleted)
	if o := b.Status.Origin; o == nil || o.WrittenBy != origin || o.Layout != layout {
		t.Fatalf("backup %s origin %+v, want %s in layout %s", backup, b.Status.Origin, origin, layout)
	}
	out := env.MustArk("backup", "get", backup)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "ORIGIN") || !strings.HasPrefix(lines[1], backup+" ") || !strings.HasSuffix(lines[1], origin) {
		t.Fatalf("ark backup get %s:\n%s", backup, out)
	}
	if d := env.MustArk("backup", "describe", backup); !strings.Contains(d, "Origin:       "+origin+" (read from object storage, "+layout+" layout") {
		t.Fatalf("ark backup describe %s:\n%s", backup, d)
	}
}

// TestRestoreBucketsOfHeptioArkAndVelero: three buckets, prepared byte for
// byte as Heptio Ark v0.7, Heptio Ark v0.10 and Velero (under a prefix, with
// both copies of each item, -preferredversion directories and another
// served version) lay them out, backing up the same objects. For each, Ark
// pointed at the bucket lists the backup with its origin after sync; the
// objects are deleted and `ark restore create` brings each back field by
// field, with the unverified-archive note in the restore's status. The two
// locations that hold another tool's backups stay exactly as they were:
// backups fail validation naming the fix, deletion is refused, nothing
// expires, and the restores' logs and results stay in the cluster.
func TestRestoreBucketsOfHeptioArkAndVelero(t *testing.T) {
	t.Parallel()
	// The PV controllers bind the claim, as in the clusters the tools
	// backed up.
	controllers := append(slices.Clone(localcluster.DefaultControllers),
		"persistentvolume-binder-controller",
		"persistentvolume-protection-controller",
		"persistentvolumeclaim-protection-controller")
	cluster := localcluster.StartForTest(t, localcluster.Options{MinIO: true, Controllers: controllers})
	env := harness.Start(t, harness.Options{Cluster: cluster, NoConfig: true, ServerArgs: fastSyncArgs})
	ctx := context.Background()
	restoreApply(t, env, lineageFixture)
	restoreWaitEstablished(t, env, "widgets.lineage.example.com")
	restoreApply(t, env, lineageNamespaced)
	env.Eventually(time.Minute, "the PVC bound", func() (bool, error) {
		var pvc corev1.PersistentVolumeClaim
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: "lin-app", Name: "data"}, &pvc)
		return err == nil && pvc.Status.Phase == corev1.ClaimBound, err
	})
	objs, betas := lineageCapture(t, env)

	// Heptio Ark v0.7: <bucket>/<backup>/, no metadata/version. Its
	// expiration is ahead: in Ark's own layout an expired backup is
	// garbage-collected as Heptio Ark would have.
	v07 := map[string][]byte{
		"v07-nightly/ark-backup.json": []byte(`{"kind":"Backup","apiVersion":"ark.heptio.com/v1","metadata":{"name":"v07-nightly","namespace":"heptio-ark",` +
			`"selfLink":"/apis/ark.heptio.com/v1/namespaces/heptio-ark/backups/v07-nightly","uid":"6f1c2a4e-1d5b-11e8-9f3c-42010a800002","resourceVersion":"81234",` +
			`"creationTimestamp":"2018-03-01T02:00:00Z"},"spec":{"includedNamespaces":["lin-app"],"excludedNamespaces":null,"includedResources":null,` +
			`"excludedResources":null,"labelSelector":null,"snapshotVolumes":null,"ttl":"720h0m0s","includeClusterResources":true,"hooks":{"resources":null}},` +
			`"status":{"version":1,"expiration":"2099-03-31T02:00:00Z","phase":"Completed","volumeBackups":null,"validationErrors":null}}`),
		"v07-nightly/v07-nightly.tar.gz":  heptioArkArchive(t, objs, ""),
		"v07-nightly/v07-nightly-logs.gz": gzipString(t, "time=\"2018-03-01T02:00:00Z\" level=info msg=\"Backup completed\"\n"),
	}
	// Heptio Ark v0.10: <bucket>/backups/<backup>/, metadata/version "1".
	v010 := map[string][]byte{
		"backups/v010-weekly/ark-backup.json": []byte(`{"kind":"Backup","apiVersion":"ark.heptio.com/v1","metadata":{"name":"v010-weekly","namespace":"heptio-ark",` +
			`"uid":"0b7e5c1a-8f3d-11e9-8c2a-42010a800002","resourceVersion":"992","creationTimestamp":"2019-06-01T02:00:00Z",` +
			`"labels":{"ark.heptio.com/storage-location":"default"}},"spec":{"includedNamespaces":["lin-app"],"ttl":"168h0m0s","includeClusterResources":true,` +
			`"hooks":{"resources":null},"storageLocation":"default","volumeSnapshotLocations":["default"]},"status":{"version":1,"expiration":"2019-06-08T02:00:00Z",` +
			`"phase":"Completed","startTimestamp":"2019-06-01T02:00:00Z","completionTimestamp":"2019-06-01T02:00:21Z","volumeSnapshotsAttempted":0,"volumeSnapshotsCompleted":0}}`),
		"backups/v010-weekly/v010-weekly.tar.gz":                  heptioArkArchive(t, objs, "1"),
		"backups/v010-weekly/v010-weekly-logs.gz":                 gzipString(t, "time=\"2019-06-01T02:00:21Z\" level=info msg=\"Backup completed\"\n"),
		"backups/v010-weekly/v010-weekly-volumesnapshots.json.gz": gzipString(t, "[]"),
		"metadata/revision":                                       []byte("7d6c3f0e-8f3d-11e9-8c2a-42010a800002"),
	}
	// Velero 1.x under prefix cluster-a, beside its restores, kopia
	// repositories and revision, and another cluster's prefix.
	velero := map[string][]byte{
		"cluster-a/backups/velero-daily/velero-backup.json": []byte(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"velero-daily","namespace":"velero",` +
			`"uid":"e3b0c442-98fc-4c14-9afb-f4c8996fb924","resourceVersion":"55012","generation":3,"creationTimestamp":"2024-05-01T02:00:00Z",` +
			`"labels":{"velero.io/schedule-name":"daily","velero.io/storage-location":"default"},` +
			`"annotations":{"velero.io/resource-timeout":"10m0s","velero.io/source-cluster-k8s-gitversion":"v1.29.4","velero.io/source-cluster-k8s-major-version":"1","velero.io/source-cluster-k8s-minor-version":"29"}},` +
			`"spec":{"metadata":{},"includedNamespaces":["lin-app"],"ttl":"72h0m0s","includeClusterResources":true,"hooks":{},"storageLocation":"default",` +
			`"defaultVolumesToFsBackup":false,"csiSnapshotTimeout":"10m0s","itemOperationTimeout":"4h0m0s"},` +
			`"status":{"version":1,"formatVersion":"1.1.0","expiration":"2024-05-04T02:00:00Z","phase":"Completed","startTimestamp":"2024-05-01T02:00:00Z",` +
			`"completionTimestamp":"2024-05-01T02:00:09Z","progress":{"totalItems":12,"itemsBackedUp":12}}}`),
		"cluster-a/backups/velero-daily/velero-daily.tar.gz":                             veleroArchive(t, objs, betas),
		"cluster-a/backups/velero-daily/velero-daily-logs.gz":                            gzipString(t, "time=\"2024-05-01T02:00:09Z\" level=info msg=\"Backup completed\" backup=velero/velero-daily\n"),
		"cluster-a/backups/velero-daily/velero-daily-volumesnapshots.json.gz":            gzipString(t, "null"),
		"cluster-a/backups/velero-daily/velero-daily-podvolumebackups.json.gz":           gzipString(t, "[]"),
		"cluster-a/backups/velero-daily/velero-daily-resource-list.json.gz":              gzipString(t, `{"v1/Secret":["lin-app/creds"]}`),
		"cluster-a/restores/velero-daily-20240502/restore-velero-daily-20240502-logs.gz": gzipString(t, "restored\n"),
		"cluster-a/kopia/lin-app/kopia.repository.f":                                     []byte("{}"),
		"cluster-a/metadata/revision":                                                    []byte("9f2c1e0d"),
		"cluster-b/backups/other-cluster/velero-backup.json":                             []byte(`{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"other-cluster"},"status":{"phase":"Completed"}}`),
		"cluster-b/backups/other-cluster/other-cluster.tar.gz":                           heptioArkArchive(t, objs, "1.1.0"),
	}
	putObjects(t, env, "heptio-ark-v07", v07)
	putObjects(t, env, "heptio-ark-v010", v010)
	putObjects(t, env, "velero", velero)

	useBucket := func(bucket, prefix string) {
		cfg := harness.MinIOConfig(env.Cluster.MinIO.Endpoint, bucket)
		cfg.BackupStorageProvider.Prefix = prefix
		cfg.BackupSyncPeriod = metav1.Duration{Duration: time.Second}
		cfg.GCSyncPeriod = metav1.Duration{Duration: time.Second}
		env.ApplyConfig(cfg)
	}

	// Heptio Ark v0.7: Ark's own layout, so Ark writes the restore's files
	// beside the backup, as Heptio Ark did.
	useBucket("heptio-ark-v07", "")
	lineageRequireListed(t, env, "v07-nightly", "Heptio Ark v0.7–v0.9", arkv1.BackupLayoutArk)
	r := lineageRestore(t, env, objs, "v07-nightly", "Heptio Ark v0.7–v0.9")
	if r.Status.FilesConfigMap != "" {
		t.Errorf("a restore from Ark's own layout kept its files in the cluster (%s)", r.Status.FilesConfigMap)
	}
	keys := sortedKeys(bucketObjects(t, env.Cluster.MinIO, "heptio-ark-v07", ""))
	if want := append(sortedKeys(v07), "v07-nightly/restore-r-v07-nightly-logs.gz", "v07-nightly/restore-r-v07-nightly-results.gz"); !slices.Equal(keys, sortedStrings(want)) {
		t.Errorf("bucket heptio-ark-v07 holds %v, want %v", keys, sortedStrings(want))
	}

	// Heptio Ark v0.10 and Velero: read-only locations.
	for _, c := range []struct {
		bucket, prefix, backup, origin, layout, archiveOrigin string
		stored                                                map[string][]byte
	}{
		{"heptio-ark-v010", "", "v010-weekly", "Heptio Ark v0.10–v0.11", arkv1.BackupLayoutArkV010, "Heptio Ark v0.10–v0.11 or Velero 1.0–1.3", v010},
		{"velero", "cluster-a", "velero-daily", "Velero", arkv1.BackupLayoutVelero, "Velero 1.4 or later", velero},
	} {
		before := bucketObjects(t, env.Cluster.MinIO, c.bucket, "")
		useBucket(c.bucket, c.prefix)
		lineageRequireListed(t, env, c.backup, c.origin, c.layout)
		r := lineageRestore(t, env, objs, c.backup, c.archiveOrigin)
		if r.Status.FilesConfigMap == "" {
			t.Errorf("restore of %s did not keep its files in the cluster", c.backup)
		}
		if d := env.MustArk("restore", "describe", r.Name); !strings.Contains(d, "Log and results:  in ConfigMap heptio-ark/"+r.Status.FilesConfigMap) {
			t.Errorf("describe does not say where the restore's files are:\n%s", d)
		}

		// Downloads of the backup's own files work.
		if log := env.MustArk("backup", "logs", c.backup); !strings.Contains(log, "Backup completed") {
			t.Errorf("ark backup logs %s:\n%s", c.backup, log)
		}

		// A backup into the location fails validation naming the fix.
		mine := "mine-" + c.bucket
		res := env.Ark("backup", "create", mine, "--include-namespaces", "lin-app", "--wait")
		b := waitBackupPhase(env, mine, 30*time.Second, arkv1.BackupPhaseFailedValidation)
		if res.Err == nil || len(b.Status.ValidationErrors) != 1 || !strings.Contains(b.Status.ValidationErrors[0], "written by "+c.origin) ||
			!strings.Contains(b.Status.ValidationErrors[0], "allowWritesAlongsideOtherTools: true") || !strings.Contains(b.Status.ValidationErrors[0], "bucket or prefix of Ark's own") {
			t.Errorf("backup into %s: %v %+v\n%s", c.bucket, res.Err, b.Status, res.Output())
		}

		// Deletion is refused by the CLI, saying why and how to allow it,
		// and by the server for a request made another way.
		res = env.Ark("backup", "delete", c.backup, "--confirm")
		if res.Err == nil || !strings.Contains(res.Output(), "written by "+c.origin) || !strings.Contains(res.Output(), "allowWritesAlongsideOtherTools: true") {
			t.Errorf("ark backup delete %s: %v\n%s", c.backup, res.Err, res.Output())
		}
		if err := env.Client.Create(ctx, arkv1.NewDeleteBackupRequest(harness.Namespace, c.backup)); err != nil {
			t.Fatal(err)
		}
		req := waitProcessedRequest(env, c.backup, 30*time.Second)
		if len(req.Status.Errors) != 1 || !strings.Contains(req.Status.Errors[0], "nothing was deleted") || !strings.Contains(req.Status.Errors[0], "allowWritesAlongsideOtherTools") {
			t.Errorf("deletion request of %s: %+v", c.backup, req.Status)
		}
		if err := env.Client.Delete(ctx, &req); err != nil {
			t.Fatal(err)
		}

		// Expired long ago, yet never collected; the bucket is as it was.
		time.Sleep(3 * time.Second)
		if _, err := getBackup(env, c.backup); err != nil {
			t.Errorf("backup %s: %v", c.backup, err)
		}
		if reqs := deleteRequests(t, env, c.backup); len(reqs) != 0 {
			t.Errorf("deletion of %s was requested: %+v", c.backup, reqs)
		}
		if after := bucketObjects(t, env.Cluster.MinIO, c.bucket, ""); !maps.Equal(before, after) {
			t.Errorf("bucket %s changed:\nbefore %v\nafter  %v", c.bucket, sortedKeys(before), sortedKeys(after))
		}
	}
	// The other cluster's prefix was never listed.
	if _, err := getBackup(env, "other-cluster"); !apierrors.IsNotFound(err) {
		t.Errorf("a backup of another prefix was synced: %v", err)
	}
}
