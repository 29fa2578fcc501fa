package local

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
		name  string
		spec  map[string]any
		field []string
	}{
		{"hostPath", map[string]any{"hostPath": map[string]any{"path": "/var/lib/nginx-logs/", "type": "DirectoryOrCreate"}},
			[]string{"spec", "hostPath", "path"}},
		{"local", map[string]any{"local": map[string]any{"path": "/mnt/disks/ssd1"},
			"nodeAffinity": map[string]any{"required": map[string]any{}}}, []string{"spec", "local", "path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pv(tc.spec)
			orig, _, _ := unstructured.NestedString(in.Object, tc.field...)
			id, err := b.GetVolumeID(in)
			if err != nil || id != strings.TrimSuffix(orig, "/") {
				t.Fatalf("GetVolumeID = %q, %v; want %q", id, err, orig)
			}
			out, err := b.SetVolumeID(in, "/srv/ark-volumes/local-abc-1234")
			if err != nil {
				t.Fatal(err)
			}
			if got, _, _ := unstructured.NestedString(out.Object, tc.field...); got != "/srv/ark-volumes/local-abc-1234" {
				t.Errorf("%s = %q after SetVolumeID", strings.Join(tc.field, "."), got)
			}
			if still, _, _ := unstructured.NestedString(in.Object, tc.field...); still != orig {
				t.Error("SetVolumeID modified its input")
			}
		})
	}
}

func TestVolumeIDForeignOrMalformed(t *testing.T) {
	b := &BlockStore{}
	for _, spec := range []map[string]any{
		{"awsElasticBlockStore": map[string]any{"volumeID": "vol-1"}},
		{"nfs": map[string]any{"server": "10.0.0.1", "path": "/exports"}},
	} {
		if id, err := b.GetVolumeID(pv(spec)); err != nil || id != "" {
			t.Errorf("GetVolumeID(%v) = %q, %v; want not ours", spec, id, err)
		}
		if _, err := b.SetVolumeID(pv(spec), "/x"); err == nil {
			t.Errorf("SetVolumeID(%v) succeeded", spec)
		}
	}
	if _, err := b.GetVolumeID(pv(map[string]any{"hostPath": map[string]any{"path": "data"}})); err == nil || !strings.Contains(err.Error(), "pv-1") {
		t.Errorf("relative hostPath: %v", err)
	}
	if _, err := b.SetVolumeID(pv(map[string]any{"hostPath": map[string]any{"path": "/data"}}), "relative"); err == nil {
		t.Error("SetVolumeID accepted a relative path")
	}
}
