package backupstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/objectstore/memstore"
)

// The buckets here are written key by key as each tool lays them out
// (Heptio Ark's and Velero's object-store layouts), not through the Store.

func put(t *testing.T, m *memstore.Store, key, body string) {
	t.Helper()
	if err := m.PutObject(context.Background(), "b", key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

func putGzip(t *testing.T, m *memstore.Store, key, body string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	put(t, m, key, buf.String())
}

// arkBackupJSON is an ark-backup.json as Heptio Ark wrote it.
func arkBackupJSON(name, phase string) string {
	return `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"` + name + `","namespace":"heptio-ark"},` +
		`"spec":{"includedNamespaces":["*"],"ttl":"720h0m0s","storageLocation":"default","volumeSnapshotLocations":["aws-default"]},` +
		`"status":{"version":1,"phase":"` + phase + `","expiration":"2019-02-01T00:00:00Z","startTimestamp":"2019-01-01T00:00:00Z","completionTimestamp":"2019-01-01T00:01:00Z","volumeSnapshotsAttempted":1,"volumeSnapshotsCompleted":1}}`
}

// veleroBackupJSON is a velero-backup.json as Velero 1.x writes it.
func veleroBackupJSON(name, phase string) string {
	return `{"kind":"Backup","apiVersion":"velero.io/v1","metadata":{"name":"` + name + `","namespace":"velero","uid":"0d2c7d6e","resourceVersion":"1234",` +
		`"creationTimestamp":"2024-05-01T10:00:00Z","labels":{"velero.io/schedule-name":"daily","velero.io/storage-location":"default"},` +
		`"annotations":{"velero.io/source-cluster-k8s-gitversion":"v1.29.4"}},` +
		`"spec":{"metadata":{},"includedNamespaces":["shop"],"excludedResources":["events"],"includedNamespaceScopedResources":["deployments"],` +
		`"excludedClusterScopedResources":["*"],"labelSelector":{"matchLabels":{"app":"shop"}},"snapshotVolumes":true,"ttl":"168h0m0s",` +
		`"hooks":{"resources":[{"name":"freeze","includedNamespaces":["shop"],"pre":[{"exec":{"container":"db","command":["/bin/fsfreeze","--freeze","/data"],"onError":"Fail","timeout":"30s"}}]}]},` +
		`"storageLocation":"default","volumeSnapshotLocations":["default"],"defaultVolumesToFsBackup":false,"csiSnapshotTimeout":"10m0s","itemOperationTimeout":"4h0m0s"},` +
		`"status":{"version":1,"formatVersion":"1.1.0","expiration":"2024-05-08T10:00:00Z","phase":"` + phase + `","startTimestamp":"2024-05-01T10:00:00Z",` +
		`"completionTimestamp":"2024-05-01T10:02:00Z","volumeSnapshotsAttempted":2,"volumeSnapshotsCompleted":1,"warnings":3,"errors":1,` +
		`"progress":{"totalItems":42,"itemsBackedUp":41},"csiVolumeSnapshotsAttempted":2,"csiVolumeSnapshotsCompleted":2,"hookStatus":{"hooksAttempted":1}}}`
}

const veleroSnapshots = `[{"spec":{"backupName":"v1","backupUID":"0d2c7d6e","location":"default","persistentVolumeName":"pv-data","providerVolumeID":"vol-1","volumeType":"gp2","volumeAZ":"us-east-1a","volumeIOPS":100},` +
	`"status":{"providerSnapshotID":"snap-1","phase":"Completed"}},` +
	`{"spec":{"backupName":"v1","location":"default","persistentVolumeName":"pv-logs","providerVolumeID":"vol-2","volumeType":"gp2","volumeAZ":"us-east-1a"},"status":{"phase":"Failed"}}]`

// Heptio Ark v0.10's snapshot records, with its broken struct tag: the PV's
// name under "PersistentVolumeName".
const arkV010Snapshots = `[{"spec":{"backupName":"old","location":"aws-default","PersistentVolumeName":"pv-old","providerVolumeID":"vol-9","volumeType":"io1","volumeAZ":"eu-west-1b","volumeIOPS":300},"status":{"providerSnapshotID":"snap-9","phase":"Completed"}}]`

// mixedBucket is a bucket whose prefix "team-a" holds backups in every
// layout, another tool's other directories, and another prefix's backups.
func mixedBucket(t *testing.T) *memstore.Store {
	m := memstore.New("b")
	for _, name := range []string{"ark-1", "dup", "backups"} {
		put(t, m, "team-a/"+name+"/ark-backup.json", `{"metadata":{"name":"`+name+`"},"status":{"phase":"Completed","archive":{"sha256":"ab","size":1}}}`)
		put(t, m, "team-a/"+name+"/"+name+".tar.gz", "x")
	}
	put(t, m, "team-a/ark-7/ark-backup.json", `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"ark-7"},"status":{"version":1,"phase":"Completed"}}`)
	put(t, m, "team-a/ark-7/ark-7.tar.gz", "x")
	put(t, m, "team-a/half/half.tar.gz", "x") // no metadata: not a backup

	put(t, m, "team-a/backups/old/ark-backup.json", arkBackupJSON("old", "Completed"))
	put(t, m, "team-a/backups/old/old.tar.gz", "x")
	putGzip(t, m, "team-a/backups/old/old-volumesnapshots.json.gz", arkV010Snapshots)
	for _, name := range []string{"v1", "dup"} {
		put(t, m, "team-a/backups/"+name+"/velero-backup.json", veleroBackupJSON(name, "Completed"))
		put(t, m, "team-a/backups/"+name+"/"+name+".tar.gz", "x")
		put(t, m, "team-a/backups/"+name+"/"+name+"-logs.gz", "x")
	}
	putGzip(t, m, "team-a/backups/v1/v1-volumesnapshots.json.gz", veleroSnapshots)
	putGzip(t, m, "team-a/backups/v1/v1-podvolumebackups.json.gz", `[{"metadata":{"name":"p1"}},{"metadata":{"name":"p2"}},{"metadata":{"name":"p3"}}]`)
	put(t, m, "team-a/backups/running/velero-backup.json", veleroBackupJSON("running", "WaitingForPluginOperations"))
	put(t, m, "team-a/restores/v1-20240501/restore-v1-20240501-logs.gz", "x")
	put(t, m, "team-a/restic/shop/config", "x")
	put(t, m, "team-a/kopia/shop/kopia.repository", "x")
	put(t, m, "team-a/metadata/revision", "r1")
	put(t, m, "team-b/other/ark-backup.json", `{"metadata":{"name":"other"}}`)
	put(t, m, "team-b/backups/elsewhere/velero-backup.json", veleroBackupJSON("elsewhere", "Completed"))
	return m
}

func TestListBackupsFindsEveryLayout(t *testing.T) {
	s := New(mixedBucket(t), "b", Options{Prefix: "team-a/"})
	found, shadowed, err := s.ListBackups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{
		{"ark-1", arkv1.BackupLayoutArk}, {"ark-7", arkv1.BackupLayoutArk}, {"backups", arkv1.BackupLayoutArk},
		{"dup", arkv1.BackupLayoutArk}, {"old", arkv1.BackupLayoutArkV010}, {"running", arkv1.BackupLayoutVelero},
		{"v1", arkv1.BackupLayoutVelero},
	}
	if !slices.Equal(found, want) {
		t.Fatalf("found %v\nwant  %v", found, want)
	}
	if !slices.Equal(shadowed, []Ref{{"dup", arkv1.BackupLayoutVelero}}) {
		t.Fatalf("shadowed %v", shadowed)
	}
}

func TestGetMetadataConvertsVeleroBackups(t *testing.T) {
	s := New(mixedBucket(t), "b", Options{Prefix: "team-a"})
	b, err := s.GetMetadata(context.Background(), Ref{"v1", arkv1.BackupLayoutVelero})
	if err != nil {
		t.Fatal(err)
	}
	if b.APIVersion != "ark.heptio.com/v1" || b.Kind != "Backup" || b.Name != "v1" || b.Namespace != "" || b.UID != "" || b.ResourceVersion != "" {
		t.Errorf("object meta %+v %+v", b.TypeMeta, b.ObjectMeta)
	}
	if b.Labels["velero.io/schedule-name"] != "daily" || b.Annotations["velero.io/source-cluster-k8s-gitversion"] != "v1.29.4" {
		t.Errorf("labels %v annotations %v", b.Labels, b.Annotations)
	}
	sp := b.Spec
	if !slices.Equal(sp.IncludedNamespaces, []string{"shop"}) || !slices.Equal(sp.IncludedResources, []string{"deployments"}) ||
		!slices.Equal(sp.ExcludedResources, []string{"events"}) || sp.IncludeClusterResources == nil || *sp.IncludeClusterResources ||
		sp.LabelSelector == nil || sp.LabelSelector.MatchLabels["app"] != "shop" || sp.SnapshotVolumes == nil || !*sp.SnapshotVolumes ||
		sp.TTL.Duration != 168*time.Hour {
		t.Errorf("spec %+v", sp)
	}
	if h := sp.Hooks.Resources; len(h) != 1 || h[0].Name != "freeze" || len(h[0].Pre) != 1 || h[0].Pre[0].Exec.Container != "db" ||
		h[0].Pre[0].Exec.OnError != arkv1.HookErrorModeFail || h[0].Pre[0].Exec.Timeout.Duration != 30*time.Second {
		t.Errorf("hooks %+v", sp.Hooks)
	}
	st := b.Status
	if st.Phase != arkv1.BackupPhaseCompleted || st.Version != 1 || st.Warnings != 3 || st.Errors != 1 ||
		!st.Expiration.Time.Equal(time.Date(2024, 5, 8, 10, 0, 0, 0, time.UTC)) ||
		!st.StartTimestamp.Time.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) ||
		!st.CompletionTimestamp.Time.Equal(time.Date(2024, 5, 1, 10, 2, 0, 0, time.UTC)) ||
		st.Progress == nil || st.Progress.TotalItems != 42 || st.Progress.ItemsBackedUp != 41 || st.Archive != nil {
		t.Errorf("status %+v", st)
	}
	if len(st.VolumeBackups) != 1 {
		t.Fatalf("volume backups %v, want the completed snapshot only", st.VolumeBackups)
	}
	if v := st.VolumeBackups["pv-data"]; v == nil || v.SnapshotID != "snap-1" || v.Type != "gp2" || v.AvailabilityZone != "us-east-1a" || v.Iops == nil || *v.Iops != 100 {
		t.Errorf("pv-data snapshot %+v", v)
	}
	o := st.Origin
	if o == nil || o.Layout != arkv1.BackupLayoutVelero || o.WrittenBy != "Velero" || len(o.Notes) != 3 {
		t.Fatalf("origin %+v", o)
	}
	for i, want := range []string{"2 CSI volume snapshot(s)", "pv-logs", "3 pod volume(s)"} {
		if !strings.Contains(o.Notes[i], want) {
			t.Errorf("note %d %q lacks %q", i, o.Notes[i], want)
		}
	}
}

func TestGetMetadataOfEveryLayout(t *testing.T) {
	ctx := context.Background()
	s := New(mixedBucket(t), "b", Options{Prefix: "team-a"})

	old, err := s.GetMetadata(ctx, Ref{"old", arkv1.BackupLayoutArkV010})
	if err != nil {
		t.Fatal(err)
	}
	if o := old.Status.Origin; o == nil || o.Layout != arkv1.BackupLayoutArkV010 || o.WrittenBy != "Heptio Ark v0.10–v0.11" || len(o.Notes) != 0 {
		t.Errorf("origin %+v", old.Status.Origin)
	}
	if v := old.Status.VolumeBackups["pv-old"]; v == nil || v.SnapshotID != "snap-9" || v.Type != "io1" || *v.Iops != 300 {
		t.Errorf("v0.10 snapshots %+v", old.Status.VolumeBackups)
	}
	if old.Status.Phase != arkv1.BackupPhaseCompleted || old.Spec.TTL.Duration != 720*time.Hour {
		t.Errorf("v0.10 backup %+v", old)
	}

	own, err := s.GetMetadata(ctx, Ref{"ark-1", arkv1.BackupLayoutArk})
	if err != nil || own.Status.Origin == nil || own.Status.Origin.WrittenBy != "Ark" || own.Status.Origin.Layout != arkv1.BackupLayoutArk {
		t.Errorf("own backup %+v, %v", own, err)
	}
	old7, err := s.GetMetadata(ctx, Ref{"ark-7", arkv1.BackupLayoutArk})
	if err != nil || old7.Status.Origin.WrittenBy != WrittenByHeptioArk7 {
		t.Errorf("Heptio Ark v0.7 backup %+v, %v", old7, err)
	}

	if _, err := s.GetMetadata(ctx, Ref{"running", arkv1.BackupLayoutVelero}); err == nil ||
		!strings.Contains(err.Error(), "WaitingForPluginOperations") || !strings.Contains(err.Error(), "not finished") {
		t.Errorf("unfinished Velero backup: %v", err)
	}
	if _, err := s.GetMetadata(ctx, Ref{"gone", arkv1.BackupLayoutVelero}); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("missing backup: %v", err)
	}
	if _, err := s.GetMetadata(ctx, Ref{"v1", "restic"}); err == nil || !strings.Contains(err.Error(), `unknown bucket layout "restic"`) {
		t.Errorf("unknown layout: %v", err)
	}

	// A name is found where sync lists it.
	for name, layout := range map[string]string{"dup": arkv1.BackupLayoutArk, "v1": arkv1.BackupLayoutVelero, "old": arkv1.BackupLayoutArkV010} {
		b, err := s.FindMetadata(ctx, name)
		if err != nil || b.Status.Origin.Layout != layout {
			t.Errorf("FindMetadata(%s) = %+v, %v; want layout %s", name, b, err, layout)
		}
	}
	if _, err := s.FindMetadata(ctx, "elsewhere"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("a backup of another prefix was found: %v", err)
	}
}

func TestVeleroMetadataThatIsNotAVeleroBackup(t *testing.T) {
	for name, body := range map[string]string{
		"ark kind":       `{"apiVersion":"ark.heptio.com/v1","kind":"Backup","metadata":{"name":"x"}}`,
		"restore":        `{"apiVersion":"velero.io/v1","kind":"Restore","metadata":{"name":"x"}}`,
		"not json":       `<html>`,
		"other name":     veleroBackupJSON("y", "Completed"),
		"deleting phase": veleroBackupJSON("x", "Deleting"),
	} {
		m := memstore.New("b")
		put(t, m, "backups/x/velero-backup.json", body)
		_, err := New(m, "b", Options{}).GetMetadata(context.Background(), Ref{"x", arkv1.BackupLayoutVelero})
		if err == nil || !strings.Contains(err.Error(), "backups/x/velero-backup.json") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadOnlyReason(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, prefix string
		keys         []string
		want         string
	}{
		{"empty bucket", "", nil, ""},
		{"Ark's own backups, one named backups", "", []string{"a/ark-backup.json", "backups/ark-backup.json", "backups/backups.tar.gz"}, ""},
		{"Velero backups", "", []string{"backups/v1/velero-backup.json"}, "backups written by Velero (backups/v1/velero-backup.json)"},
		{"Heptio Ark v0.10 backups", "p", []string{"p/backups/old/ark-backup.json"}, "backups written by Heptio Ark v0.10–v0.11 (p/backups/old/ark-backup.json)"},
		{"a Velero backup being written", "", []string{"backups/v1/v1.tar.gz"}, "another tool's backup directories (backups/v1/)"},
		{"only restic repositories", "", []string{"restic/shop/config"}, "another tool's files (restic/shop/)"},
		{"only kopia repositories", "p", []string{"p/kopia/shop/kopia.repository"}, "another tool's files (p/kopia/shop/)"},
		{"only restores", "", []string{"restores/r1/restore-r1-logs.gz"}, "another tool's files (restores/r1/)"},
		{"only Velero's revision", "", []string{"metadata/revision"}, "metadata/revision"},
		{"another prefix's Velero backups", "p", []string{"backups/v1/velero-backup.json", "q/backups/v2/velero-backup.json"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := memstore.New("b")
			for _, k := range c.keys {
				put(t, m, k, "{}")
			}
			got, err := New(m, "b", Options{Prefix: c.prefix}).ReadOnlyReason(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if got != "" {
					t.Fatalf("read-only: %s", got)
				}
				return
			}
			if !strings.Contains(got, c.want) || !strings.Contains(got, "read-only for Ark") {
				t.Fatalf("reason %q, want it to name %q", got, c.want)
			}
			if allowed, err := New(m, "b", Options{Prefix: c.prefix, AllowWritesAlongsideOtherTools: true}).ReadOnlyReason(ctx); err != nil || allowed != "" {
				t.Fatalf("allowed by the Config, yet %q, %v", allowed, err)
			}
		})
	}
}

func TestWritesIntoAnotherToolsLayout(t *testing.T) {
	ctx := context.Background()
	m := mixedBucket(t)
	before := m.Keys("b", "")
	ro := New(m, "b", Options{Prefix: "team-a"})
	v1 := Ref{"v1", arkv1.BackupLayoutVelero}
	for what, err := range map[string]error{
		"restore log":     ro.PutRestoreLog(ctx, v1, "r1", strings.NewReader("x")),
		"restore results": ro.PutRestoreResults(ctx, v1, "r1", arkv1.RestoreResult{}, arkv1.RestoreResult{}),
		"delete":          ro.DeleteBackup(ctx, v1),
	} {
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "allowWritesAlongsideOtherTools") {
			t.Errorf("%s into Velero's layout: %v", what, err)
		}
	}
	if after := m.Keys("b", ""); !slices.Equal(before, after) {
		t.Fatalf("the bucket changed:\n%v\n%v", before, after)
	}

	rw := New(m, "b", Options{Prefix: "team-a", AllowWritesAlongsideOtherTools: true})
	if err := rw.PutRestoreLog(ctx, v1, "r1", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := rw.DeleteBackup(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if got := m.Keys("b", "team-a/backups/v1/"); len(got) != 0 {
		t.Errorf("left of the deleted backup: %v", got)
	}
	if got := m.Keys("b", "team-a/restores/r1/"); !slices.Equal(got, []string{"team-a/restores/r1/restore-r1-logs.gz"}) {
		t.Errorf("restore log at %v, want Velero's restores/r1/", got)
	}
}

// Ark's own backup named "backups" lies where Velero keeps its backups'
// directories: deleting it deletes its own files only.
func TestDeletingABackupNamedBackupsLeavesVelerosAlone(t *testing.T) {
	m := mixedBucket(t)
	s := New(m, "b", Options{Prefix: "team-a", AllowWritesAlongsideOtherTools: true})
	files, err := s.Files(context.Background(), Ref{"backups", arkv1.BackupLayoutArk})
	if err != nil || !files.Complete() {
		t.Fatalf("files %+v, %v", files, err)
	}
	velero := m.Keys("b", "team-a/backups/v1/")
	if err := s.DeleteBackup(context.Background(), Ref{"backups", arkv1.BackupLayoutArk}); err != nil {
		t.Fatal(err)
	}
	if got := m.Keys("b", "team-a/backups/"); len(got) == 0 || slices.Contains(got, "team-a/backups/ark-backup.json") {
		t.Fatalf("after deleting Ark's backup \"backups\": %v", got)
	}
	if got := m.Keys("b", "team-a/backups/v1/"); !slices.Equal(got, velero) {
		t.Fatalf("Velero's backup changed: %v, was %v", got, velero)
	}
}

func TestKeysOfEveryLayout(t *testing.T) {
	ctx := context.Background()
	s := New(memstore.New("b"), "b", Options{Prefix: "p/q/"})
	cases := []struct {
		target DownloadTarget
		want   string
	}{
		{DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Backup: Ref{"a", arkv1.BackupLayoutArk}}, "mem://b/p/q/a/a.tar.gz"},
		{DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Backup: Ref{"a", arkv1.BackupLayoutArk}}, "mem://b/p/q/a/a-logs.gz"},
		{DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreLog, Backup: Ref{"a", arkv1.BackupLayoutArk}, Restore: "r"}, "mem://b/p/q/a/restore-r-logs.gz"},
		{DownloadTarget{Kind: arkv1.DownloadTargetKindBackupContents, Backup: Ref{"v", arkv1.BackupLayoutVelero}}, "mem://b/p/q/backups/v/v.tar.gz"},
		{DownloadTarget{Kind: arkv1.DownloadTargetKindBackupLog, Backup: Ref{"o", arkv1.BackupLayoutArkV010}}, "mem://b/p/q/backups/o/o-logs.gz"},
		{DownloadTarget{Kind: arkv1.DownloadTargetKindRestoreResults, Backup: Ref{"v", arkv1.BackupLayoutVelero}, Restore: "r"}, "mem://b/p/q/restores/r/restore-r-results.gz"},
	}
	for _, c := range cases {
		got, err := s.SignedURL(ctx, c.target, time.Minute)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.target, got, err, c.want)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, ok := range []string{"", "ark", "ark/", "velero/cluster-a", "a.b_c-d/e"} {
		if err := ValidatePrefix(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"/ark":      `starts with "/"`,
		"a//b":      "empty",
		"a/../b":    `".."`,
		"./a":       `"."`,
		`a\b`:       "backslash",
		"a\nb":      "control character",
		"velero//":  "empty",
		"a/./b/":    `"."`,
		"a/b/../..": `".."`,
	} {
		if err := ValidatePrefix(bad); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "backupStorageProvider.prefix") {
			t.Errorf("%q: %v, want an error naming %s", bad, err, want)
		}
	}
}
