package local

import (
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// pathField finds the directory field of a hostPath or local PV, or nil.
func pathField(pv *unstructured.Unstructured) []string {
	for _, source := range []string{"hostPath", "local"} {
		if _, found, _ := unstructured.NestedFieldNoCopy(pv.Object, "spec", source); found {
			return []string{"spec", source, "path"}
		}
	}
	return nil
}

// GetVolumeID returns the directory of a hostPath or local PV.
func (b *BlockStore) GetVolumeID(pv *unstructured.Unstructured) (string, error) {
	field := pathField(pv)
	if field == nil {
		return "", nil
	}
	p, _, err := unstructured.NestedString(pv.Object, field...)
	if err != nil {
		return "", fmt.Errorf("PV %s: %s: %w", pv.GetName(), strings.Join(field, "."), err)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("PV %s: %s %q is not an absolute path: the PV is malformed", pv.GetName(), strings.Join(field, "."), p)
	}
	return filepath.Clean(p), nil
}

// SetVolumeID returns a copy of pv whose hostPath or local path is volumeID.
func (b *BlockStore) SetVolumeID(pv *unstructured.Unstructured, volumeID string) (*unstructured.Unstructured, error) {
	field := pathField(pv)
	if field == nil {
		return nil, fmt.Errorf("PV %s has neither spec.hostPath nor spec.local: the local block store cannot set its path", pv.GetName())
	}
	if !filepath.IsAbs(volumeID) {
		return nil, fmt.Errorf("PV %s: local volume ID %q is not an absolute path", pv.GetName(), volumeID)
	}
	out := pv.DeepCopy()
	if err := unstructured.SetNestedField(out.Object, filepath.Clean(volumeID), field...); err != nil {
		return nil, fmt.Errorf("PV %s: setting %s: %w", pv.GetName(), strings.Join(field, "."), err)
	}
	return out, nil
}
