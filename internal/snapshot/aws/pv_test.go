package aws

import (
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
	b := &BlockStore{}
	for _, tc := range []struct {
		name      string
		spec      map[string]any
		wantID    string
		field     []string
		wantAfter string
	}{
		{
			name:      "in-tree with zone URL",
			spec:      map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/vol-123", "fsType": "ext4"}},
			wantID:    "vol-123",
			field:     []string{"spec", "awsElasticBlockStore", "volumeID"},
			wantAfter: "aws://us-east-1a/vol-new",
		},
		{
			name:      "in-tree bare ID",
			spec:      map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-123"}},
			wantID:    "vol-123",
			field:     []string{"spec", "awsElasticBlockStore", "volumeID"},
			wantAfter: "vol-new",
		},
		{
			name:      "CSI",
			spec:      map[string]any{"csi": map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc", "fsType": "ext4"}},
			wantID:    "vol-0abc",
			field:     []string{"spec", "csi", "volumeHandle"},
			wantAfter: "vol-new",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pv(tc.spec)
			id, err := b.GetVolumeID(in)
			if err != nil || id != tc.wantID {
				t.Fatalf("GetVolumeID = %q, %v; want %q", id, err, tc.wantID)
			}
			out, err := b.SetVolumeID(in, "vol-new")
			if err != nil {
				t.Fatalf("SetVolumeID: %v", err)
			}
			got, _, _ := unstructured.NestedString(out.Object, tc.field...)
			if got != tc.wantAfter {
				t.Errorf("%s = %q, want %q", strings.Join(tc.field, "."), got, tc.wantAfter)
			}
			if again, _ := b.GetVolumeID(out); again != "vol-new" {
				t.Errorf("GetVolumeID after SetVolumeID = %q", again)
			}
			// The input is untouched: SetVolumeID returns a copy.
			if orig, _, _ := unstructured.NestedString(in.Object, tc.field...); strings.HasSuffix(orig, "vol-new") {
				t.Errorf("SetVolumeID modified its input: %q", orig)
			}
		})
	}
}

func TestVolumeIDForeignOrMalformed(t *testing.T) {
	b := &BlockStore{}
	for _, spec := range []map[string]any{
		{"gcePersistentDisk": map[string]any{"pdName": "disk-1"}},
		{"csi": map[string]any{"driver": "pd.csi.storage.gke.io", "volumeHandle": "projects/p/zones/z/disks/d"}},
		{"hostPath": map[string]any{"path": "/data"}},
		{},
	} {
		id, err := b.GetVolumeID(pv(spec))
		if err != nil || id != "" {
			t.Errorf("GetVolumeID(%v) = %q, %v; want \"\", nil (not ours)", spec, id, err)
		}
		if _, err := b.SetVolumeID(pv(spec), "vol-1"); err == nil {
			t.Errorf("SetVolumeID(%v) succeeded on a PV that is not EBS", spec)
		}
	}
	for _, spec := range []map[string]any{
		{"awsElasticBlockStore": map[string]any{}},
		{"awsElasticBlockStore": map[string]any{"volumeID": "aws://us-east-1a/"}},
		{"csi": map[string]any{"driver": "ebs.csi.aws.com"}},
		{"awsElasticBlockStore": map[string]any{"volumeID": int64(42)}},
	} {
		if _, err := b.GetVolumeID(pv(spec)); err == nil || !strings.Contains(err.Error(), "pv-1") {
			t.Errorf("GetVolumeID(%v) = %v; want an error naming the PV", spec, err)
		}
	}
	if _, err := b.SetVolumeID(pv(map[string]any{"awsElasticBlockStore": map[string]any{"volumeID": "vol-1"}}), "snap-1"); err == nil {
		t.Error("SetVolumeID accepted a snapshot ID as a volume ID")
	}
}
