package restore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/hooks"
)

// podHooks is the restore's side of hooks: it adds init containers to the
// pods it restores, runs their exec hooks in the background once they run,
// and waits for those before the restore ends. The wait is bounded by each
// hook's waitTimeout and execTimeout.
type podHooks struct {
	hooks   *hooks.RestoreHooks
	runner  *hooks.Runner
	dynamic dynamic.Interface
	results *results

	wg        sync.WaitGroup
	attempted atomic.Int64
	failed    atomic.Int64
}

// prepare resolves the hooks of a pod about to be created (obj, already
// moved to its target namespace; sourceNamespace is where it was backed
// up) and puts its init containers before its own. It returns the exec
// hooks to start once the pod is created.
func (h *podHooks) prepare(obj *unstructured.Unstructured, sourceNamespace string) []hooks.Exec {
	pod := hooks.PodFromUnstructured(obj)
	pod.Namespace = sourceNamespace // hook specs select on the backup's namespaces
	plan := h.hooks.For(pod)
	for _, p := range plan.Problems {
		h.results.error(obj.GetNamespace(), "%s", p)
	}
	if len(plan.Init) > 0 {
		if err := addInitContainers(obj, plan.Init); err != nil {
			h.results.error(obj.GetNamespace(), "init hooks of pod %s/%s not added: %v", obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return plan.Exec
}

// addInitContainers puts containers first among the pod's init containers.
// One whose name the pod already has is left out: a pod restored with hooks
// and backed up again carries them already.
func addInitContainers(obj *unstructured.Unstructured, containers []corev1.Container) error {
	existing, _, err := unstructured.NestedSlice(obj.Object, "spec", "initContainers")
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, c := range existing {
		if m, ok := c.(map[string]any); ok {
			if name, ok := m["name"].(string); ok {
				taken[name] = true
			}
		}
	}
	var added []any
	for i := range containers {
		if taken[containers[i].Name] {
			continue
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&containers[i])
		if err != nil {
			return err
		}
		added = append(added, m)
	}
	if len(added) == 0 {
		return nil
	}
	return unstructured.SetNestedSlice(obj.Object, append(added, existing...), "spec", "initContainers")
}

// start runs a created pod's exec hooks in the background, in order: each
// waits for its container to run (its waitTimeout counts from now, when the
// pod was created), then runs. A failure with onError Continue is a warning
// and the next hook runs; one with Fail is an error of the restore and the
// pod's remaining hooks are not run.
func (h *podHooks) start(ctx context.Context, pods schema.GroupVersionResource, created *unstructured.Unstructured, execs []hooks.Exec) {
	if len(execs) == 0 {
		return
	}
	pod := hooks.PodFromUnstructured(created)
	client := h.dynamic.Resource(pods).Namespace(pod.Namespace)
	createdAt := time.Now()
	h.wg.Go(func() {
		for _, e := range execs {
			h.attempted.Add(1)
			err := hooks.WaitForContainer(ctx, client, pod.Name, e.Container, createdAt, e.WaitTimeout)
			if err != nil {
				err = &hooks.Failure{Phase: "restore exec", Hook: e, Pod: pod, Container: e.Container, Err: fmt.Errorf("not run: %w", err)}
			} else {
				err = h.runner.Run(ctx, "restore exec", pod, e)
			}
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return // the restore was stopped
			}
			h.failed.Add(1)
			if e.OnError == arkv1.HookErrorModeContinue {
				h.results.warning(pod.Namespace, "%v (onError Continue)", err)
				continue
			}
			h.results.error(pod.Namespace, "%v (onError Fail); the pod's remaining exec hooks were not run", err)
			return
		}
	})
}

// wait returns once every started hook has ended, with their count.
func (h *podHooks) wait() *arkv1.HookStatus {
	h.wg.Wait()
	if h.attempted.Load() == 0 {
		return nil
	}
	return &arkv1.HookStatus{HooksAttempted: int(h.attempted.Load()), HooksFailed: int(h.failed.Load())}
}
