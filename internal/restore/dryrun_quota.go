package restore

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var resourceQuotasGVR = schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}

// quotaCount is one object-count limit of a ResourceQuota in a target
// namespace, and how many objects the dry run would add under it.
type quotaCount struct {
	quota      string
	key        string // "count/configmaps", "configmaps", ...
	hard, used int64
	added      int64
}

// legacyCountKeys are the quota keys that count core objects by their bare
// resource name.
var legacyCountKeys = map[string]bool{
	"pods": true, "services": true, "secrets": true, "configmaps": true,
	"persistentvolumeclaims": true, "replicationcontrollers": true, "resourcequotas": true,
}

// reserveQuota counts an item the API server accepted against the object
// counts of the target namespace's quotas. Each dry-run create is checked
// against the quota as it stands, so a restore of many objects passes every
// check alone and still fails part way; this catches that. It returns why
// the item would fail, or "". Compute quotas (requests.cpu, ...) are not
// summed: the server's check of each item is all a dry run can give.
func (p *preview) reserveQuota(ctx context.Context, namespace, key string) string {
	if namespace == "" {
		return ""
	}
	counts := p.quotasOf(ctx, namespace)
	if len(counts) == 0 {
		return ""
	}
	keys := map[string]bool{"count/" + key: true}
	if legacyCountKeys[key] {
		keys[key] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range counts {
		if keys[c.key] && c.used+c.added+1 > c.hard {
			return fmt.Sprintf("it would exceed ResourceQuota %s of namespace %s: %s is limited to %d, %d are used, and this restore would already have created %d before it (each dry-run create alone passes the quota; together they do not)",
				c.quota, namespace, c.key, c.hard, c.used, c.added)
		}
	}
	for _, c := range counts {
		if keys[c.key] {
			c.added++
		}
	}
	return ""
}

// quotasOf reads the object-count limits of a namespace's quotas once.
func (p *preview) quotasOf(ctx context.Context, namespace string) []*quotaCount {
	p.mu.Lock()
	counts, loaded := p.quotas[namespace]
	p.mu.Unlock()
	if loaded {
		return counts
	}
	list, err := p.r.opts.Dynamic.Resource(resourceQuotasGVR).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		p.tally.Note("the ResourceQuotas of namespace %s could not be read, so the restore's items there were checked against them one at a time only: %v", namespace, err)
	} else {
		for _, q := range list.Items {
			counts = append(counts, quotaCounts(&q)...)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if existing, ok := p.quotas[namespace]; ok {
		return existing // another worker loaded it first
	}
	p.quotas[namespace] = counts
	return counts
}

func quotaCounts(q *unstructured.Unstructured) []*quotaCount {
	hard, _, _ := unstructured.NestedStringMap(q.Object, "status", "hard")
	if len(hard) == 0 {
		hard, _, _ = unstructured.NestedStringMap(q.Object, "spec", "hard")
	}
	used, _, _ := unstructured.NestedStringMap(q.Object, "status", "used")
	var out []*quotaCount
	for key, h := range hard {
		if !strings.HasPrefix(key, "count/") && !legacyCountKeys[key] {
			continue
		}
		hq, err := resource.ParseQuantity(h)
		if err != nil {
			continue
		}
		var u int64
		if uq, err := resource.ParseQuantity(used[key]); err == nil {
			u = uq.Value()
		}
		out = append(out, &quotaCount{quota: q.GetName(), key: key, hard: hq.Value(), used: u})
	}
	return out
}
