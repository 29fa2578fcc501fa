package backup

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	podResource = schema.GroupResource{Resource: "pods"}
	pvcResource = schema.GroupResource{Resource: "persistentvolumeclaims"}
	pvResource  = schema.GroupResource{Resource: "persistentvolumes"}
)

// runActions applies the built-in backup item actions: a pod pulls in the
// claims it mounts, a claim pulls in its bound volume, and a volume is
// snapshotted when a provider is configured.
func (e *engine) runActions(ctx context.Context, gr schema.GroupResource, item *unstructured.Unstructured) ([]itemRef, error) {
	if gr.Group != "" {
		return nil, nil
	}
	switch gr.Resource {
	case "pods":
		return podClaims(item), nil
	case "persistentvolumeclaims":
		volume, _, _ := unstructured.NestedString(item.Object, "spec", "volumeName")
		if volume == "" {
			return nil, nil // unbound: nothing to pull in, and not an error
		}
		return []itemRef{{Resource: pvResource, Name: volume, boundTo: item}}, nil
	case "persistentvolumes":
		return nil, e.snapshotVolume(ctx, item)
	}
	return nil, nil
}

// volumeBoundTo reports whether pv is bound to claim: its claimRef names the
// claim's namespace and name, and the claim's UID when it records one.
// spec.volumeName is the claim's side only, which whoever can write the
// claim sets at will; claimRef is the volume's side, which only the PV
// controller and cluster admins write. Without this check, a tenant's claim
// naming another namespace's volume would pull that volume, and a snapshot
// of its data, into a backup of the tenant's namespace.
func volumeBoundTo(pv, claim *unstructured.Unstructured) (bool, string) {
	ref, found, _ := unstructured.NestedMap(pv.Object, "spec", "claimRef")
	if !found {
		return false, "which is bound to no claim"
	}
	ns, _ := ref["namespace"].(string)
	name, _ := ref["name"].(string)
	if ns != claim.GetNamespace() || name != claim.GetName() {
		return false, fmt.Sprintf("which is bound to claim %s/%s", ns, name)
	}
	if uid, _ := ref["uid"].(string); uid != "" && claim.GetUID() != "" && uid != string(claim.GetUID()) {
		return false, "which was bound to an earlier claim of that name (another UID)"
	}
	return true, ""
}

func podClaims(pod *unstructured.Unstructured) []itemRef {
	volumes, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
	var refs []itemRef
	for _, v := range volumes {
		vol, ok := v.(map[string]interface{})
		if !ok {
			continue
		}
		claim, _, _ := unstructured.NestedString(vol, "persistentVolumeClaim", "claimName")
		if claim != "" {
			refs = append(refs, itemRef{Resource: pvcResource, Namespace: pod.GetNamespace(), Name: claim})
		}
	}
	return refs
}

// snapshotVolume snapshots a PV unless the backup said not to. A failure is
// an error of this item, which makes the backup PartiallyFailed.
func (e *engine) snapshotVolume(ctx context.Context, pv *unstructured.Unstructured) error {
	if e.Volumes == nil {
		return nil
	}
	if s := e.Backup.Spec.SnapshotVolumes; s != nil && !*s {
		return nil
	}
	tags := map[string]string{
		"ark.heptio.com/backup": e.Backup.Name,
		"ark.heptio.com/pv":     pv.GetName(),
	}
	for k, v := range pv.GetLabels() {
		if _, taken := tags[k]; !taken {
			tags[k] = v
		}
	}
	info, err := e.Volumes.SnapshotVolume(ctx, pv, tags)
	if err != nil {
		return fmt.Errorf("snapshotting the volume failed: %w", err)
	}
	if info == nil {
		e.Log.Info("volume not snapshotted: the configured provider does not own its source", "persistentVolume", pv.GetName())
		return nil
	}
	e.result.VolumeBackups[pv.GetName()] = info
	e.Log.Info("volume snapshotted", "persistentVolume", pv.GetName(), "snapshotID", info.SnapshotID)
	return nil
}
