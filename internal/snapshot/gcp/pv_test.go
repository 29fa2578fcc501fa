package gcp

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func pv(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": "pv-1"},
		"spec":     spec,
	}}
}

func TestGetAndSetVolumeID(t *testing.T) {
	b := &BlockStore{project: "my-project"}
	for _, tc := range []struct {
		name      string
		spec      map[string]any
		wantID    string
		setTo     string
		field     []string
		wantAfter string
	}{
		{
			name:   "in-tree, set to a full ID",
			spec:   map[string]any{"gcePersistentDisk": map[string]any{"pdName": "pvc-1", "fsType": "ext4"}},
			wantID: "pvc-1", setTo: "projects/my-project/zones/us-central1-b/disks/restore-1",
			field: pdNameField, wantAfter: "restore-1",
		},
		{
			name:   "in-tree, set to a name",
			spec:   map[string]any{"gcePersistentDisk": map[string]any{"pdName": "pvc-1"}},
			wantID: "pvc-1", setTo: "restore-2",
			field: pdNameField, wantAfter: "restore-2",
		},
		{
			name:   "CSI, set to a full ID",
			spec:   map[string]any{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/p/zones/us-east1-b/disks/pvc-2"}},
			wantID: "projects/p/zones/us-east1-b/disks/pvc-2", setTo: "projects/my-project/zones/us-east1-c/disks/restore-3",
			field: csiHandleField, wantAfter: "projects/my-project/zones/us-east1-c/disks/restore-3",
		},
		{
			name:   "CSI, set to a name keeps project and zone",
			spec:   map[string]any{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/p/zones/us-east1-b/disks/pvc-2"}},
			wantID: "projects/p/zones/us-east1-b/disks/pvc-2", setTo: "restore-4",
			field: csiHandleField, wantAfter: "projects/p/zones/us-east1-b/disks/restore-4",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pv(tc.spec)
			id, err := b.GetVolumeID(in)
			if err != nil || id != tc.wantID {
				t.Fatalf("GetVolumeID = %q, %v; want %q", id, err, tc.wantID)
			}
			out, err := b.SetVolumeID(in, tc.setTo)
			if err != nil {
				t.Fatalf("SetVolumeID: %v", err)
			}
			if got, _, _ := unstructured.NestedString(out.Object, tc.field...); got != tc.wantAfter {
				t.Errorf("%s = %q, want %q", strings.Join(tc.field, "."), got, tc.wantAfter)
			}
			if orig, _, _ := unstructured.NestedString(in.Object, tc.field...); orig == tc.wantAfter {
				t.Error("SetVolumeID modified its input")
			}
		})
	}
}

func TestVolumeIDForeignOrMalformed(t *testing.T) {
	b := &BlockStore{project: "my-project"}
	for _, spec := range []map[string]any{
		{"awsElasticBlockStore": map[string]any{"volumeID": "vol-1"}},
		{"csi": map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}},
		{"local": map[string]any{"path": "/mnt/disks/1"}},
	} {
		if id, err := b.GetVolumeID(pv(spec)); err != nil || id != "" {
			t.Errorf("GetVolumeID(%v) = %q, %v; want not ours", spec, id, err)
		}
		if _, err := b.SetVolumeID(pv(spec), "d"); err == nil {
			t.Errorf("SetVolumeID(%v) succeeded", spec)
		}
	}
	for _, spec := range []map[string]any{
		{"gcePersistentDisk": map[string]any{}},
		{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "disks/x"}},
		{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/p/regions/us-east1/disks/x"}},
	} {
		if _, err := b.GetVolumeID(pv(spec)); err == nil || !strings.Contains(err.Error(), "pv-1") {
			t.Errorf("GetVolumeID(%v) = %v; want an error naming the PV", spec, err)
		}
	}
}

func TestParseDiskID(t *testing.T) {
	if _, err := parseDiskID("d1", "", "p"); err == nil || !strings.Contains(err.Error(), "topology.kubernetes.io/zone") {
		t.Errorf("a bare name without a zone: %v", err)
	}
	if _, err := parseDiskID("d1", "us-central1-a__us-central1-b", "p"); err == nil || !strings.Contains(err.Error(), "regional") {
		t.Errorf("a multi-zone label: %v", err)
	}
	got, err := parseDiskID("/projects/p2/zones/z/disks/d", "ignored", "p")
	if err != nil || got != (diskID{"p2", "z", "d"}) {
		t.Errorf("full ID: %v, %v", got, err)
	}
}

func TestSanitizeLabels(t *testing.T) {
	got := sanitizeLabels(map[string]string{
		"ark.heptio.com/backup": "Nginx Backup",
		"9lives":                "x",
		strings.Repeat("k", 80): strings.Repeat("V", 80),
		"tag-key":               "ark-snapshot",
	})
	want := map[string]string{
		"ark-heptio-com-backup": "nginx-backup",
		"k-9lives":              "x",
		strings.Repeat("k", 63): strings.Repeat("v", 63),
		"tag-key":               "ark-snapshot",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sanitizeLabels = %v, want %v", got, want)
	}
	if sanitizeLabels(nil) != nil {
		t.Error("no tags should send no labels")
	}
}

func TestSnapshotName(t *testing.T) {
	for _, disk := range []string{"pvc-1", strings.Repeat("a", 80), "1-starts-with-digit", "UPPER"} {
		name := snapshotName(disk)
		if !rfc1035.MatchString(name) || len(name) > 63 {
			t.Errorf("snapshotName(%q) = %q, not an RFC 1035 name of at most 63 characters", disk, name)
		}
	}
	if snapshotName("d") == snapshotName("d") {
		t.Error("two snapshots of one disk got the same name")
	}
}
