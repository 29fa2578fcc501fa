package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// writeVersions stores an item, already written unversioned in the cluster's
// preferred version (data), in the version directories of every version the
// cluster serves its resource in (includeAllAPIVersions). Resources served in
// one version only get no directories: the unversioned copy is that version,
// and the archive stays half the size.
//
// Each other version is read with a GET of the same object, so every version
// directory holds exactly the items of the unversioned copy, and what the
// listing filtered (namespaces, selectors, exclusions) applies to all of them.
func (e *engine) writeVersions(ctx context.Context, r kube.Resource, item *unstructured.Unstructured, data []byte) error {
	versions := e.Discovery.Versions(r.GroupResource())
	if len(versions) < 2 {
		return nil
	}
	gr := r.GroupResource()
	base := archive.Item{Resource: gr.String(), Namespace: item.GetNamespace(), Name: item.GetName()}
	for _, v := range versions {
		copyItem := base
		copyItem.Version = v
		body := data
		if v == r.GVR.Version {
			copyItem.Preferred = true
		} else {
			var client dynamic.ResourceInterface = e.Dynamic.Resource(gr.WithVersion(v))
			if r.Namespaced {
				client = e.Dynamic.Resource(gr.WithVersion(v)).Namespace(item.GetNamespace())
			}
			other, err := client.Get(ctx, item.GetName(), metav1.GetOptions{})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !apierrors.IsNotFound(err) {
					e.problem("warning", gr.String(), item.GetNamespace(), item.GetName(), fmt.Sprintf("version %s could not be read, so only the other versions are in the backup: %v", v, err))
				}
				continue // deleted since it was listed: the restore uses the other versions
			}
			other.SetManagedFields(nil)
			if body, err = json.Marshal(other.Object); err != nil {
				e.problem("warning", gr.String(), item.GetNamespace(), item.GetName(), fmt.Sprintf("encoding version %s: %v", v, err))
				continue
			}
		}
		if err := e.out.Add(copyItem, body); err != nil {
			var refused *archive.ItemError
			if errors.As(err, &refused) {
				e.problem("warning", gr.String(), item.GetNamespace(), item.GetName(), fmt.Sprintf("version %s not backed up: %s", v, refused.Reason))
				continue
			}
			return fmt.Errorf("writing %s %s/%s (version %s) to the archive: %w", gr, item.GetNamespace(), item.GetName(), v, err)
		}
	}
	return nil
}
