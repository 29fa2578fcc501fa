package restore

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

// serviceAccountTokenType is the type of the Secrets that hold a
// ServiceAccount's long-lived token.
const serviceAccountTokenType = "kubernetes.io/service-account-token"

func isServiceAccountToken(obj *unstructured.Unstructured) bool {
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	return t == serviceAccountTokenType
}

// tokenSecrets holds the service account token Secrets of a restore until
// their ServiceAccounts are restored: Kubernetes' token controller deletes a
// token Secret whose ServiceAccount does not exist, and Secrets come before
// ServiceAccounts in the restore order (pods need both). They are few (one
// per ServiceAccount at most, and none since Kubernetes 1.24 unless asked
// for), so holding their archive entries costs nothing.
type tokenSecrets struct {
	mu    sync.Mutex
	items []deferredItem
}

type deferredItem struct {
	t    tier
	res  kube.Resource
	item archive.Item
}

func (d *tokenSecrets) hold(t tier, res kube.Resource, item archive.Item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t.tokensPass = true
	d.items = append(d.items, deferredItem{t, res, item})
}

func (d *tokenSecrets) take() []deferredItem {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.items
	d.items = nil
	return out
}

// restoreTokenSecrets restores the token Secrets held so far, once their
// ServiceAccounts are (after that tier, or at the end of the restore).
func (r *restorer) restoreTokenSecrets(ctx context.Context) {
	held := r.tokens.take()
	if len(held) > 0 {
		r.log.Info("restoring service account token secrets after their service accounts", "items", len(held))
	}
	for _, d := range held {
		r.restoreItem(ctx, d.t, d.res, d.item)
	}
}

// prepareServiceAccountToken lets the token controller of the target cluster
// fill a token Secret in again: the old token was signed by the old cluster
// for the old ServiceAccount (its UID in the annotation), and its namespace
// key names the backed-up namespace, wrong under a namespace mapping. The
// controller deletes a Secret whose UID annotation names no ServiceAccount,
// and fills only empty keys.
func prepareServiceAccountToken(obj *unstructured.Unstructured) {
	annotations := obj.GetAnnotations()
	if _, ok := annotations["kubernetes.io/service-account.uid"]; ok {
		delete(annotations, "kubernetes.io/service-account.uid")
		obj.SetAnnotations(annotations)
	}
	data, ok := obj.Object["data"].(map[string]any)
	if !ok {
		return
	}
	for _, k := range []string{"token", "namespace", "ca.crt"} {
		delete(data, k)
	}
	if len(data) == 0 {
		delete(obj.Object, "data")
	}
}
