package azure

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

const (
	sourceDisk   = "/subscriptions/sub-9/resourceGroups/MC_old_eastus/providers/Microsoft.Compute/disks/pvc-1"
	restoredDisk = "/subscriptions/sub-1/resourceGroups/ark-group/providers/Microsoft.Compute/disks/restore-1"
)

func TestGetAndSetVolumeID(t *testing.T) {
	b := &BlockStore{subscription: "sub-1", resourceGroup: "ark-group"}
	for _, tc := range []struct {
		name     string
		spec     map[string]any
		wantID   string
		setTo    string
		wantSpec map[string]any
	}{
		{
			name:   "in-tree managed disk with diskURI",
			spec:   map[string]any{"azureDisk": map[string]any{"kind": "Managed", "diskName": "pvc-1", "diskURI": sourceDisk}},
			wantID: sourceDisk, setTo: restoredDisk,
			wantSpec: map[string]any{"azureDisk": map[string]any{"kind": "Managed", "diskName": "restore-1", "diskURI": restoredDisk}},
		},
		{
			name:   "in-tree diskName only",
			spec:   map[string]any{"azureDisk": map[string]any{"diskName": "pvc-1"}},
			wantID: "pvc-1", setTo: "restore-2",
			wantSpec: map[string]any{"azureDisk": map[string]any{"diskName": "restore-2",
				"diskURI": "/subscriptions/sub-1/resourceGroups/ark-group/providers/Microsoft.Compute/disks/restore-2"}},
		},
		{
			name:   "CSI",
			spec:   map[string]any{"csi": map[string]any{"driver": "disk.csi.azure.com", "volumeHandle": sourceDisk}},
			wantID: sourceDisk, setTo: restoredDisk,
			wantSpec: map[string]any{"csi": map[string]any{"driver": "disk.csi.azure.com", "volumeHandle": restoredDisk}},
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
			if got := out.Object["spec"]; !reflect.DeepEqual(got, tc.wantSpec) {
				t.Errorf("spec after SetVolumeID\n got %v\nwant %v", got, tc.wantSpec)
			}
			if !reflect.DeepEqual(in.Object["spec"], tc.spec) {
				t.Error("SetVolumeID modified its input")
			}
		})
	}
}

func TestVolumeIDForeignOrMalformed(t *testing.T) {
	b := &BlockStore{subscription: "sub-1", resourceGroup: "ark-group"}
	for _, spec := range []map[string]any{
		{"gcePersistentDisk": map[string]any{"pdName": "d"}},
		{"csi": map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}},
		{"hostPath": map[string]any{"path": "/data"}},
	} {
		if id, err := b.GetVolumeID(pv(spec)); err != nil || id != "" {
			t.Errorf("GetVolumeID(%v) = %q, %v; want not ours", spec, id, err)
		}
		if _, err := b.SetVolumeID(pv(spec), restoredDisk); err == nil {
			t.Errorf("SetVolumeID(%v) succeeded", spec)
		}
	}
	for _, tc := range []struct {
		spec map[string]any
		want string
	}{
		{map[string]any{"azureDisk": map[string]any{"diskName": "d", "diskURI": "https://acct.blob.core.windows.net/vhds/d.vhd"}}, "unmanaged"},
		{map[string]any{"azureDisk": map[string]any{}}, "diskName"},
		{map[string]any{"csi": map[string]any{"driver": "disk.csi.azure.com", "volumeHandle": "pvc-1"}}, "full disk ID"},
		{map[string]any{"csi": map[string]any{"driver": "disk.csi.azure.com",
			"volumeHandle": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/snapshots/x"}}, "Microsoft.Compute/disks"},
	} {
		_, err := b.GetVolumeID(pv(tc.spec))
		if err == nil || !strings.Contains(err.Error(), "pv-1") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("GetVolumeID(%v) = %v; want an error naming the PV and %q", tc.spec, err, tc.want)
		}
	}
	noGroup := &BlockStore{subscription: "sub-1"}
	if _, err := noGroup.SetVolumeID(pv(map[string]any{"azureDisk": map[string]any{"diskName": "d"}}), "restore-1"); err == nil ||
		!strings.Contains(err.Error(), "AZURE_RESOURCE_GROUP") {
		t.Errorf("a bare name without AZURE_RESOURCE_GROUP: %v", err)
	}
}

func TestNamesTagsZones(t *testing.T) {
	for _, disk := range []string{"pvc-1", strings.Repeat("x", 100), "kubernetes-dynamic-pvc-a/b"} {
		name := resourceName(disk)
		if len(name) > 80 || strings.ContainsAny(name, "/ ") {
			t.Errorf("resourceName(%q) = %q", disk, name)
		}
	}
	got := toAzureTags(map[string]string{"ark.heptio.com/backup": "b1", "a<b>c%d&e\\f?g": strings.Repeat("v", 300)})
	if v := got["ark.heptio.com-backup"]; v == nil || *v != "b1" {
		t.Errorf("tags %v", got)
	}
	if v := got["a-b-c-d-e-f-g"]; v == nil || len(*v) != 256 {
		t.Errorf("tags %v", got)
	}
	for zone, want := range map[string]string{"eastus-1": "1", "westeurope-3": "3", "2": "2", "0": "", "": "", "eastus": "", "eastus-9": ""} {
		if got := logicalZone(zone); got != want {
			t.Errorf("logicalZone(%q) = %q, want %q", zone, got, want)
		}
	}
}
