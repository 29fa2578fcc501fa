package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// errCancelRequested is the cause of the context of a run whose spec.cancel
// was set; the run tells a cancel from a failure by it.
var errCancelRequested = errors.New("cancel requested (spec.cancel)")

// cancelled reports whether ctx ended because a cancel was requested.
func cancelled(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errCancelRequested)
}

// cancelPoll is how often a run re-reads its object for spec.cancel, in
// case the watch missed the change (a variable so tests can shorten it).
var cancelPoll = 2 * time.Second

// cleanupTimeout bounds the deletions a cancelled or failed run makes
// after its own context has ended.
const cleanupTimeout = 5 * time.Minute

// runs are the backups or restores this server is running, by UID, each
// with the function that stops it. The run itself executes inside a
// reconcile, which holds that controller's worker: a second, small
// controller (cancelWatcher) sees the spec change and stops the run
// through this registry.
type runs struct {
	mu  sync.Mutex
	ops map[types.UID]context.CancelCauseFunc
}

// start registers a run of the object with uid and returns its context,
// which ends when a cancel is requested (or parent ends). stop must be
// called when the run ends. get re-reads spec.cancel; it is polled every
// cancelPoll as a second path to the same cancel.
func (r *runs) start(parent context.Context, uid types.UID, get func(context.Context) (bool, error)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	r.mu.Lock()
	if r.ops == nil {
		r.ops = map[types.UID]context.CancelCauseFunc{}
	}
	r.ops[uid] = cancel
	r.mu.Unlock()
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		t := time.NewTicker(cancelPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if requested, err := get(ctx); err == nil && requested {
					cancel(errCancelRequested)
					return
				}
			}
		}
	}()
	return ctx, func() {
		r.mu.Lock()
		delete(r.ops, uid)
		r.mu.Unlock()
		cancel(context.Canceled)
		<-pollDone
	}
}

// cancel stops the run of uid; it reports whether one was running here.
func (r *runs) cancel(uid types.UID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	stop, ok := r.ops[uid]
	if ok {
		stop(errCancelRequested)
	}
	return ok
}

// cancelWatcher stops a running backup or restore as soon as its
// spec.cancel is set. It only reacts to spec changes (the generation), so
// the run's own status writes do not wake it.
type cancelWatcher[T client.Object] struct {
	name      string
	client    client.Client
	runs      *runs
	newObject func() T
	requested func(T) bool
}

func (w *cancelWatcher[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := w.newObject()
	if err := w.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if w.requested(obj) {
		w.runs.cancel(obj.GetUID())
	}
	return ctrl.Result{}, nil
}

func (w *cancelWatcher[T]) setup(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named(w.name).
		For(w.newObject(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(w)
}
