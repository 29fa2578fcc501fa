package gcp

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CSIDriver is the GCE PD CSI driver whose PVs this provider snapshots.
const CSIDriver = "pd.csi.storage.gke.io"

var (
	pdNameField       = []string{"spec", "gcePersistentDisk", "pdName"}
	csiHandleField    = []string{"spec", "csi", "volumeHandle"}
	errNotGCEPVFormat = "PV %s has neither spec.gcePersistentDisk nor a " + CSIDriver + " CSI source: the gcp block store cannot set its volume ID"
)

func volumeIDField(pv *unstructured.Unstructured) ([]string, error) {
	if _, found, _ := unstructured.NestedFieldNoCopy(pv.Object, "spec", "gcePersistentDisk"); found {
		return pdNameField, nil
	}
	driver, found, err := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if err != nil {
		return nil, fmt.Errorf("PV %s: spec.csi.driver: %w", pv.GetName(), err)
	}
	if found && driver == CSIDriver {
		return csiHandleField, nil
	}
	return nil, nil
}

// GetVolumeID returns the pdName of an in-tree GCE PV, or the whole CSI
// handle "projects/P/zones/Z/disks/NAME" of a CSI one.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	field, err := volumeIDField(pv)
	if err != nil || field == nil {
		return "", err
	}
	value, found, err := unstructured.NestedString(pv.Object, field...)
	if err != nil {
		return "", fmt.Errorf("PV %s: %s: %w", pv.GetName(), strings.Join(field, "."), err)
	}
	if !found || value == "" {
		return "", fmt.Errorf("PV %s is a GCE disk but %s is empty: the PV is malformed", pv.GetName(), strings.Join(field, "."))
	}
	if field[1] == "csi" {
		if _, err := parseDiskID(value, "", b.project); err != nil {
			return "", fmt.Errorf("PV %s: %w", pv.GetName(), err)
		}
	}
	return value, nil
}

// SetVolumeID returns a copy of pv pointing at volumeID, in the field
// GetVolumeID read: pdName gets the disk name, a CSI handle the full
// projects/P/zones/Z/disks/NAME (a bare name keeps the old handle's project
// and zone).
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	field, err := volumeIDField(pv)
	if err != nil {
		return nil, err
	}
	if field == nil {
		return nil, fmt.Errorf(errNotGCEPVFormat, pv.GetName())
	}
	if volumeID == "" {
		return nil, fmt.Errorf("PV %s: empty GCE volume ID", pv.GetName())
	}
	out := pv.DeepCopy()
	value := lastSegment(volumeID)
	if field[1] == "csi" {
		value = volumeID
		if !strings.Contains(volumeID, "/") {
			old, _, _ := unstructured.NestedString(out.Object, field...)
			d, err := parseDiskID(old, "", b.project)
			if err != nil {
				return nil, fmt.Errorf("PV %s: cannot place disk %s: the old handle %q gives no project and zone", pv.GetName(), volumeID, old)
			}
			d.name = volumeID
			value = d.String()
		} else if _, err := parseDiskID(volumeID, "", b.project); err != nil {
			return nil, err
		}
	}
	if err := unstructured.SetNestedField(out.Object, value, field...); err != nil {
		return nil, fmt.Errorf("PV %s: setting %s: %w", pv.GetName(), strings.Join(field, "."), err)
	}
	return out, nil
}
