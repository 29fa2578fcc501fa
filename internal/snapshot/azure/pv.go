package azure

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// CSIDriver is the Azure Disk CSI driver whose PVs this provider snapshots.
const CSIDriver = "disk.csi.azure.com"

type pvSource int

const (
	notAzure pvSource = iota
	inTree
	csi
)

func sourceOf(pv *unstructured.Unstructured) (pvSource, error) {
	if _, found, _ := unstructured.NestedFieldNoCopy(pv.Object, "spec", "azureDisk"); found {
		return inTree, nil
	}
	driver, found, err := unstructured.NestedString(pv.Object, "spec", "csi", "driver")
	if err != nil {
		return notAzure, fmt.Errorf("PV %s: spec.csi.driver: %w", pv.GetName(), err)
	}
	if found && driver == CSIDriver {
		return csi, nil
	}
	return notAzure, nil
}

// GetVolumeID returns the disk's full ARM ID when the PV has one (the CSI
// volumeHandle, or an in-tree diskURI), so its resource group travels with
// the backup; otherwise the in-tree diskName, which is looked up in
// AZURE_RESOURCE_GROUP.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	source, err := sourceOf(pv)
	if err != nil || source == notAzure {
		return "", err
	}
	if source == csi {
		handle, _, err := unstructured.NestedString(pv.Object, "spec", "csi", "volumeHandle")
		if err != nil || handle == "" {
			return "", fmt.Errorf("PV %s is an Azure CSI disk but spec.csi.volumeHandle is empty or not a string: the PV is malformed", pv.GetName())
		}
		if _, err := b.parseFull(handle); err != nil {
			return "", fmt.Errorf("PV %s: spec.csi.volumeHandle: %w", pv.GetName(), err)
		}
		return handle, nil
	}

	uri, _, err := unstructured.NestedString(pv.Object, "spec", "azureDisk", "diskURI")
	if err != nil {
		return "", fmt.Errorf("PV %s: spec.azureDisk.diskURI: %w", pv.GetName(), err)
	}
	if strings.HasPrefix(strings.ToLower(uri), "http") {
		return "", fmt.Errorf("PV %s uses an unmanaged (blob) Azure disk %s; only managed disks can be snapshotted: "+
			"back it up with snapshotVolumes: false", pv.GetName(), uri)
	}
	if uri != "" {
		if _, err := b.parseFull(uri); err != nil {
			return "", fmt.Errorf("PV %s: spec.azureDisk.diskURI: %w", pv.GetName(), err)
		}
		return uri, nil
	}
	name, _, err := unstructured.NestedString(pv.Object, "spec", "azureDisk", "diskName")
	if err != nil || name == "" {
		return "", fmt.Errorf("PV %s is an Azure disk but has neither spec.azureDisk.diskURI nor spec.azureDisk.diskName: the PV is malformed", pv.GetName())
	}
	return name, nil
}

func (b *BlockStore) parseFull(id string) (resourceRef, error) {
	if !strings.HasPrefix(id, "/") {
		return resourceRef{}, fmt.Errorf("%q is not a full disk ID (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/disks/<name>)", id)
	}
	return b.parse(id, "disks")
}

// SetVolumeID returns a copy of pv pointing at volumeID: diskName and diskURI
// for an in-tree PV (managed disks need both), the volumeHandle for a CSI PV.
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	source, err := sourceOf(pv)
	if err != nil {
		return nil, err
	}
	if source == notAzure {
		return nil, fmt.Errorf("PV %s has neither spec.azureDisk nor a %s CSI source: the azure block store cannot set its volume ID",
			pv.GetName(), CSIDriver)
	}
	ref, err := b.parse(volumeID, "disks")
	if err != nil {
		return nil, fmt.Errorf("PV %s: %w", pv.GetName(), err)
	}
	out := pv.DeepCopy()
	if source == csi {
		err = unstructured.SetNestedField(out.Object, ref.String(), "spec", "csi", "volumeHandle")
	} else {
		err = unstructured.SetNestedField(out.Object, ref.name, "spec", "azureDisk", "diskName")
		if err == nil {
			err = unstructured.SetNestedField(out.Object, ref.String(), "spec", "azureDisk", "diskURI")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("PV %s: setting the volume ID: %w", pv.GetName(), err)
	}
	return out, nil
}
