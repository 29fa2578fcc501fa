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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
)

// maxRelists bounds how often one LIST is taken up again after its continue
// token expired, so a cluster whose tokens always expire before the next
// page (a compaction interval shorter than one page's upload) ends in a
// clear error rather than a loop.
const maxRelists = 5

// listPages pages through a LIST per selector (the OR terms of the backup's
// label selectors), handing each item to fn, so only one page is ever in
// memory. An item an earlier term already matched was listed, and written,
// with that term, so it is skipped. first, when not nil, gives the first
// page of the first term's LIST, fetched ahead (firstPages).
func (e *engine) listPages(ctx context.Context, target dynamic.ResourceInterface, first pageFunc, fn func(*unstructured.Unstructured) error) error {
	for i, sel := range e.selectors {
		if i > 0 {
			first = nil
		}
		err := e.listPagesWith(ctx, target, sel, first, func(item *unstructured.Unstructured) error {
			if matchedEarlier(e.selectors, i, labels.Set(item.GetLabels())) {
				e.progress.TotalItems--
				return nil // listed, and written, with an earlier OR term
			}
			return fn(item)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// unselective reports whether no label selector narrows the backup.
func (e *engine) unselective() bool {
	return len(e.selectors) == 1 && e.selectors[0].Empty()
}

// listPagesWith pages through one LIST with one label selector. A failing
// LIST is a problem of this resource, not of the backup: the error is
// recorded and the backup goes on.
//
// The continue token of a LIST expires (410 Gone, ResourceExpired) when etcd
// compacts the revision it points into, typically after five minutes; a
// slow upload holding up the next page is enough. The LIST is then taken up
// again rather than cut short: from the token the API server returns with
// the error, which goes on after the last item in a newer snapshot; or,
// when it returns none, from the start, skipping the items already written.
// Those are remembered as 8-byte hashes, so the memory is bounded by 8 bytes
// per item of the resource being listed, and freed after it.
func (e *engine) listPagesWith(ctx context.Context, target dynamic.ResourceInterface, sel labels.Selector, first pageFunc, fn func(*unstructured.Unstructured) error) error {
	opts := e.firstPageOptions(sel)
	written := newWrittenSet()
	relists := 0
	for {
		var page *unstructured.UnstructuredList
		var err error
		if first != nil {
			page, err = first()
			first = nil
		} else {
			page, err = target.List(ctx, opts)
		}
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

// firstPageOptions are the options of a LIST's first page with selector sel.
func (e *engine) firstPageOptions(sel labels.Selector) metav1.ListOptions {
	return metav1.ListOptions{Limit: e.PageSize, LabelSelector: sel.String()}
}

// pageFunc returns a page of a LIST fetched ahead.
type pageFunc func() (*unstructured.UnstructuredList, error)

// prefetchWindow is how many first pages are fetched ahead of the one being
// written: enough to hide the round trips of the many small LISTs a backup
// of several namespaces makes (one per resource and namespace, most of them
// empty), few enough that the pages held stay a small part of the memory.
const prefetchWindow = 4

// firstPages fetches the first page of each target's LIST (with the first
// label selector) ahead of its turn, at most prefetchWindow ahead of the
// target being written, and returns one pageFunc per target, to be called
// in order. A backup of N namespaces makes N LISTs per resource, and with
// them one after the other the round trips, not the items, set its pace.
// Nil for a single target, which has nothing to overlap with.
func (e *engine) firstPages(ctx context.Context, targets []dynamic.ResourceInterface) []pageFunc {
	if len(targets) < 2 {
		return nil
	}
	opts := e.firstPageOptions(e.selectors[0])
	type result struct {
		page *unstructured.UnstructuredList
		err  error
	}
	results := make([]chan result, len(targets))
	start := func(i int) {
		if i >= len(targets) {
			return
		}
		ch := make(chan result, 1) // buffered: a fetch nobody waits for still ends
		results[i] = ch
		go func() {
			page, err := targets[i].List(ctx, opts)
			ch <- result{page, err}
		}()
	}
	for i := range min(prefetchWindow, len(targets)) {
		start(i)
	}
	funcs := make([]pageFunc, len(targets))
	for i := range targets {
		funcs[i] = func() (*unstructured.UnstructuredList, error) {
			r := <-results[i]
			start(i + prefetchWindow)
			return r.page, r.err
		}
	}
	return funcs
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
