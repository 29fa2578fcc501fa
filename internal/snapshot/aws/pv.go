package aws

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CSIDriver is the EBS CSI driver whose PVs this provider snapshots.
const CSIDriver = "ebs.csi.aws.com"

// volumeIDField finds the field of pv that names its EBS volume: the in-tree
// awsElasticBlockStore.volumeID or the EBS CSI driver's volumeHandle. It
// returns nil when the PV is not an EBS volume.
func volumeIDField(pv *unstructured.Unstructured) ([]string, error) {
	if _, found, _ := unstructured.NestedFieldNoCopy(pv.Object, "spec", "awsElasticBlockStore"); found {
		return []string{"spec", "awsElasticBlockStore", "volumeID"}, nil
	}
	driver, found, err := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if err != nil {
		return nil, fmt.Errorf("PV %s: spec.csi.driver: %w", pv.GetName(), err)
	}
	if found && driver == CSIDriver {
		return []string{"spec", "csi", "volumeHandle"}, nil
	}
	return nil, nil
}

// GetVolumeID returns the vol-... ID of an EBS PV. The in-tree field may be
// "aws://us-east-1a/vol-123" or "vol-123"; both give "vol-123".
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
		return "", fmt.Errorf("PV %s is an EBS volume but %s is empty: the PV is malformed", pv.GetName(), strings.Join(field, "."))
	}
	id := value[strings.LastIndex(value, "/")+1:]
	if !strings.HasPrefix(id, "vol-") {
		return "", fmt.Errorf("PV %s: %s %q does not name an EBS volume (expected vol-... or aws://<zone>/vol-...)",
			pv.GetName(), strings.Join(field, "."), value)
	}
	return id, nil
}

// SetVolumeID returns a copy of pv pointing at volumeID, in the field
// GetVolumeID read. An "aws://<zone>/" prefix on the old value is kept.
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	field, err := volumeIDField(pv)
	if err != nil {
		return nil, err
	}
	if field == nil {
		return nil, fmt.Errorf("PV %s has neither spec.awsElasticBlockStore nor a %s CSI source: the aws block store cannot set its volume ID",
			pv.GetName(), CSIDriver)
	}
	if !strings.HasPrefix(volumeID, "vol-") {
		return nil, fmt.Errorf("%q is not an EBS volume ID (expected vol-...)", volumeID)
	}
	out := pv.DeepCopy()
	old, _, _ := unstructured.NestedString(out.Object, field...)
	value := volumeID
	if i := strings.LastIndex(old, "/"); i >= 0 {
		value = old[:i+1] + volumeID
	}
	if err := unstructured.SetNestedField(out.Object, value, field...); err != nil {
		return nil, fmt.Errorf("PV %s: setting %s: %w", pv.GetName(), strings.Join(field, "."), err)
	}
	return out, nil
}
