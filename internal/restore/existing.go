package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	arkv1 "github.com/heptio/ark/api/v1"
)

// existingOutcome is what happened to an object that already existed.
type existingOutcome int

const (
	existingLeft existingOutcome = iota // policy none: left as it is
	existingUpdated
	existingUnchanged
	existingNotUpdated
)

// handleExisting deals with an object the create found already there:
// with the policy "none" it is left as it is, with a warning; with "update"
// it is patched to the backed-up state. It is never deleted.
func (r *restorer) handleExisting(ctx context.Context, client dynamic.ResourceInterface, desired *unstructured.Unstructured, what, target string) existingOutcome {
	if r.spec.ExistingResourcePolicy != arkv1.ExistingResourcePolicyUpdate {
		r.results.warning(target, "%s already exists, left as it is (never overwritten)", what)
		return existingLeft
	}
	live, err := client.Get(ctx, desired.GetName(), metav1.GetOptions{})
	if err != nil {
		r.results.warning(target, "%s already exists but could not be read to update it, so it was left as it is: %v", what, err)
		return existingNotUpdated
	}
	patch, patchType, err := updatePatch(live, desired, RestoreLabel)
	if err != nil {
		r.results.warning(target, "%s already exists and no update to the backed-up state could be computed, so it was left as it is: %v", what, err)
		return existingNotUpdated
	}
	if patch == nil {
		r.log.Info("already exists, identical to the backup", "item", what)
		return existingUnchanged
	}
	if _, err := client.Patch(ctx, desired.GetName(), patchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		r.results.warning(target, "%s already exists and could not be updated to the backed-up state, so it was left as it is: %s", what, patchFailure(err))
		return existingNotUpdated
	}
	r.log.Info("already existed: updated to the backed-up state", "item", what)
	return existingUpdated
}

// fieldManager names Ark in the managedFields of what it updates.
const fieldManager = "ark-restore"

// updatePatch computes the patch that brings live to the backed-up state
// of desired, or nil when live is in that state already (the restore label
// aside, which is added only along with a real change).
//
// The state is every top-level field but apiVersion, kind, metadata and
// status (spec, data, rules, subjects ...), plus the labels and annotations.
// Fields and keys the live object has and the backup does not are kept
// (what the cluster allocated, such as a Service's clusterIP, and the labels
// its controllers add), except the keys of data and binaryData, which are
// exactly the backup's afterwards.
//
// It is a three-way patch from apimachinery (what kubectl apply computes):
// a strategic merge patch for built-in kinds, so lists with merge keys
// (containers by name, ports by port) are merged rather than replaced, and
// a JSON merge patch for the others (custom resources have no merge keys).
// The "original" of the three is the backed-up state itself, but with the
// live data keys, so the only deletions it asks for are those keys.
func updatePatch(live, desired *unstructured.Unstructured, ignoreLabel string) ([]byte, types.PatchType, error) {
	modified := stateOf(desired)
	current := stateOf(live)
	withoutLabel := stateOf(desired)
	if md, ok := withoutLabel["metadata"].(map[string]any); ok {
		if l, ok := md["labels"].(map[string]any); ok {
			delete(l, ignoreLabel)
			if len(l) == 0 {
				delete(md, "labels")
			}
		}
		if len(md) == 0 {
			delete(withoutLabel, "metadata")
		}
	}
	patch, patchType, err := threeWay(live, withoutLabel, current)
	if err != nil || isEmptyPatch(patch) {
		return nil, patchType, err
	}
	patch, patchType, err = threeWay(live, modified, current)
	return patch, patchType, err
}

func threeWay(live *unstructured.Unstructured, modified, current map[string]any) ([]byte, types.PatchType, error) {
	original := map[string]any{}
	for k, v := range modified {
		original[k] = v
	}
	for _, k := range []string{"data", "binaryData"} {
		if v, ok := current[k]; ok {
			original[k] = v
		} else {
			delete(original, k)
		}
	}
	origJSON, err := json.Marshal(original)
	if err != nil {
		return nil, "", err
	}
	modJSON, err := json.Marshal(modified)
	if err != nil {
		return nil, "", err
	}
	curJSON, err := json.Marshal(current)
	if err != nil {
		return nil, "", err
	}
	if typed, err := clientgoscheme.Scheme.New(live.GroupVersionKind()); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, "", err
		}
		patch, err := strategicpatch.CreateThreeWayMergePatch(origJSON, modJSON, curJSON, meta, true)
		return patch, types.StrategicMergePatchType, err
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(origJSON, modJSON, curJSON)
	return patch, types.MergePatchType, err
}

// stateOf is the part of an object an update restores.
func stateOf(obj *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for k, v := range obj.DeepCopy().Object {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		out[k] = v
	}
	md := map[string]any{}
	if l := obj.GetLabels(); len(l) > 0 {
		md["labels"] = toAny(l)
	}
	if a := obj.GetAnnotations(); len(a) > 0 {
		md["annotations"] = toAny(a)
	}
	if len(md) > 0 {
		out["metadata"] = md
	}
	return out
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func isEmptyPatch(p []byte) bool {
	s := strings.TrimSpace(string(p))
	return s == "" || s == "{}"
}

// patchFailure says why the API server refused an update, naming the fields
// it refused (an immutable one, most often) when it says which.
func patchFailure(err error) string {
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return err.Error()
	}
	var causes []string
	for _, c := range status.Status().Details.Causes {
		if c.Field != "" {
			causes = append(causes, fmt.Sprintf("field %s: %s", c.Field, c.Message))
		} else {
			causes = append(causes, c.Message)
		}
	}
	return strings.Join(causes, "; ")
}
