package backup

// This file is the engine's paginated LIST, which must neither lose items
// nor write one twice when the API server forgets where a LIST was.

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// maxRelists bounds how often one LIST is taken up again after its continue
// token expired, so a cluster whose tokens always expire before the next
// page (a compaction interval shorter than one page's upload) ends in a
// clear error rather than a loop.
const maxRelists = 5

// listPages pages through a LIST, handing each item to fn, so only one page
// is ever in memory. A failing LIST is a problem of this resource, not of the
// backup: the error is recorded and the backup goes on.
//
// The continue token of a LIST expires (410 Gone, ResourceExpired) when etcd
// compacts the revision it points into, typically after five minutes; a
// slow upload holding up the next page is enough. The LIST is then taken up
// again rather than cut short: from the token the API server returns with
// the error, which goes on after the last item in a newer snapshot; or,
// when it returns none, from the start, skipping the items already written.
// Those are remembered as 8-byte hashes, so the memory is bounded by 8 bytes
// per item of the resource being listed, and freed after it.
func (e *engine) listPages(ctx context.Context, target dynamic.ResourceInterface, fn func(*unstructured.Unstructured) error) error {
	opts := metav1.ListOptions{Limit: e.PageSize, LabelSelector: e.selector.String()}
	written := newWrittenSet()
	relists := 0
	for {
		page, err := target.List(ctx, opts)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if expired(err) && opts.Continue != "" && relists < maxRelists {
				relists++
				if next := continueAfterExpiry(err); next != "" {
					e.Log.Warn("the LIST's continue token expired; going on from the next item in a newer snapshot",
						"resource", e.progress.CurrentResource, "attempt", relists)
					opts.Continue = next
				} else {
					e.Log.Warn("the LIST's continue token expired; listing again from the start, skipping the items already backed up",
						"resource", e.progress.CurrentResource, "itemsSoFar", written.len(), "attempt", relists)
					opts.Continue = ""
					written.startOver()
				}
				continue
			}
			msg := fmt.Sprintf("listing failed: %v", err)
			if expired(err) && relists >= maxRelists {
				msg = fmt.Sprintf("listing failed: its continue token expired %d times, so the items not yet listed are missing: back up this resource again, and if it keeps happening make pages faster to write (a smaller --backup-page-size, faster object storage) or etcd compaction less frequent: %v", relists, err)
			}
			e.problem("error", e.progress.CurrentResource, "", "", msg)
			return nil
		}
		for i := range page.Items {
			item := &page.Items[i]
			if written.seen(item.GetNamespace(), item.GetName()) {
				continue
			}
			e.progress.TotalItems++
			if err := fn(item); err != nil {
				return err
			}
		}
		if page.GetContinue() == "" {
			return nil
		}
		opts.Continue = page.GetContinue()
	}
}

// expired reports a LIST refused because its continue token is too old.
func expired(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
}

// continueAfterExpiry is the token the API server returns with an expired
// one's 410, which goes on after the last item returned (in a newer
// snapshot); "" when it gave none.
func continueAfterExpiry(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().ListMeta.Continue
	}
	return ""
}

// writtenSet remembers the items one LIST handed on, as hashes of
// namespace/name (8 bytes each). Before a relist from the start, the hashes
// so far are sorted once, so each item of the relist is found by binary
// search; items met during the relist are appended after them.
type writtenSet struct {
	seed   maphash.Seed
	hashes []uint64
	// sorted is how many leading hashes are sorted: those of the passes
	// before the current one, which is the only place a relisted item can
	// be met again.
	sorted int
}

func newWrittenSet() *writtenSet { return &writtenSet{seed: maphash.MakeSeed()} }

func (w *writtenSet) len() int { return len(w.hashes) }

// seen reports whether an earlier pass handed the item on, and records it
// otherwise.
func (w *writtenSet) seen(namespace, name string) bool {
	var h maphash.Hash
	h.SetSeed(w.seed)
	h.WriteString(namespace)
	h.WriteByte(0) // namespaces and names cannot hold NUL: no ambiguity
	h.WriteString(name)
	sum := h.Sum64()
	if _, found := slices.BinarySearch(w.hashes[:w.sorted], sum); found {
		return true
	}
	w.hashes = append(w.hashes, sum)
	return false
}

// startOver begins a new pass: everything recorded so far is what to skip.
func (w *writtenSet) startOver() {
	slices.Sort(w.hashes)
	w.sorted = len(w.hashes)
}
