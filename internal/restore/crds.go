package restore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// crdReadyTimeout bounds the wait for restored CustomResourceDefinitions to
// be Established and served. The API server usually needs well under a
// second; a loaded control plane can take several.
var crdReadyTimeout = time.Minute

// crdPollInterval is how often the CRDs and discovery are checked.
var crdPollInterval = 200 * time.Millisecond

// restoredCRD is a CustomResourceDefinition that this restore created or
// found already there: its custom resources may come in a later tier.
type restoredCRD struct {
	name string
	gr   schema.GroupResource // what it serves, e.g. widgets.example.com
}

// crdSet collects the CRDs of the CRD tier from the workers.
type crdSet struct {
	mu   sync.Mutex
	crds []restoredCRD
}

func (s *crdSet) add(obj *unstructured.Unstructured) {
	group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.crds = append(s.crds, restoredCRD{name: obj.GetName(), gr: schema.GroupResource{Group: group, Resource: plural}})
}

func (s *crdSet) take() []restoredCRD {
	s.mu.Lock()
	defer s.mu.Unlock()
	crds := s.crds
	s.crds = nil
	slices.SortFunc(crds, func(a, b restoredCRD) int { return strings.Compare(a.name, b.name) })
	return crds
}

// awaitCRDs waits until every CRD is Established and its resource appears in
// discovery, so that the custom resources in later tiers can be created. A
// CRD that does not get there in time is reported; its custom resources are
// then reported as not served, once per resource.
func (r *restorer) awaitCRDs(ctx context.Context, crdGVR schema.GroupVersionResource, crds []restoredCRD) error {
	if len(crds) == 0 {
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, crdReadyTimeout)
	defer cancel()
	client := r.opts.Dynamic.Resource(crdGVR)

	var served []restoredCRD
	for _, crd := range crds {
		established, lastErr := false, error(nil)
		for !established {
			obj, err := client.Get(ctx, crd.name, metav1.GetOptions{})
			if err == nil {
				established = conditionTrue(obj, "Established")
			}
			lastErr = err
			if established || !sleep(ctx, crdPollInterval) {
				break
			}
		}
		if err := parent.Err(); err != nil {
			return err
		}
		if !established {
			reason := "its condition Established never became True"
			if lastErr != nil {
				reason = lastErr.Error()
			}
			r.results.warning("", "CustomResourceDefinition %s was not Established within %s (%s); its custom resources may not be restored", crd.name, crdReadyTimeout, reason)
			continue
		}
		served = append(served, crd)
	}

	// Established means the API server serves the resource; discovery, which
	// later tiers go by, follows a moment later.
	for {
		err := r.opts.Discovery.Refresh()
		missing := slices.DeleteFunc(slices.Clone(served), func(c restoredCRD) bool {
			_, ok := r.opts.Discovery.ForGroupResource(c.gr)
			return ok
		})
		if err == nil && len(missing) == 0 {
			return nil
		}
		if !sleep(ctx, crdPollInterval) {
			if perr := parent.Err(); perr != nil {
				return perr
			}
			if err != nil {
				r.results.arkWarning("refreshing the cluster's resources after restoring CustomResourceDefinitions: %v", err)
			}
			for _, c := range missing {
				r.results.warning("", "CustomResourceDefinition %s is Established but %s did not appear in the cluster's discovery within %s", c.name, c.gr, crdReadyTimeout)
			}
			return nil
		}
	}
}

func conditionTrue(obj *unstructured.Unstructured, condType string) bool {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] == condType && cond["status"] == "True" {
			return true
		}
	}
	return false
}

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
