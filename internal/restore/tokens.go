package restore

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/archive"
	"github.com/heptio/ark/internal/kube"
)

func isServiceAccountToken(obj *unstructured.Unstructured) bool {
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	return t == serviceAccountTokenType
}

// tokenSecrets holds the service account token Secrets of a restore until
// their ServiceAccounts are restored: Kubernetes' token controller deletes a
// token Secret whose ServiceAccount does not exist. The default priorities
// restore ServiceAccounts first, so nothing is held; a priority order that
// puts Secrets before ServiceAccounts (--restore-resource-priorities) makes
// the restore hold them. They are few (one per ServiceAccount at most, and
// none since Kubernetes 1.24 unless asked for), so holding their archive
// entries costs nothing. prepareSecret (actions.go) empties them, so the
// target cluster's token controller fills them in again.
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

// serviceAccountsAfterSecrets is the index of the last ServiceAccounts tier
// when one comes after a Secrets tier, else -1 (nothing to hold).
func serviceAccountsAfterSecrets(tiers []tier) int {
	secrets, last := -1, -1
	for i, t := range tiers {
		switch t.key {
		case secretsKey:
			if secrets < 0 {
				secrets = i
			}
		case serviceAccountsKey:
			last = i
		}
	}
	if secrets < 0 || last < secrets {
		return -1
	}
	return last
}
