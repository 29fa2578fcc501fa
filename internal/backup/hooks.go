package backup

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
)

// backupPod backs up a pod between its hooks: its pre hooks, then the pod
// and what it pulls in (its claims, their volumes and snapshots), then its
// post hooks, which run whatever happened before them, so what a pre hook
// froze is always thawed. A pre hook that fails with onError Fail keeps the
// pod and its volumes out of the backup.
func (e *engine) backupPod(ctx context.Context, r kube.Resource, item *unstructured.Unstructured) error {
	pod := hooks.PodFromUnstructured(item)
	plan := e.hooks.For(pod)
	for _, w := range plan.Warnings {
		e.problem("warning", "pods", pod.Namespace, pod.Name, w)
	}
	if plan.Empty() {
		return e.writeItem(ctx, r, item)
	}
	if pod.Phase != "Running" {
		phase := pod.Phase
		if phase == "" {
			phase = "Pending"
		}
		e.problem("warning", "pods", pod.Namespace, pod.Name, fmt.Sprintf(
			"hooks of pod %s not run: the pod is %s, not Running (%d pre and %d post hooks skipped); the pod is backed up without them",
			pod, phase, len(plan.Pre), len(plan.Post)))
		return e.writeItem(ctx, r, item)
	}

	var err error
	if failed := e.runHooks(ctx, "pre", pod, plan.Pre); failed != nil {
		e.problem("error", "pods", pod.Namespace, pod.Name,
			fmt.Sprintf("%v; with onError Fail the pod and its volumes were not backed up", failed))
		e.withholdVolumes(ctx, item, fmt.Sprintf("the pre hook of pod %s failed", pod))
	} else {
		err = e.writeItem(ctx, r, item)
	}
	// Post hooks run even when the backup is being stopped: a frozen file
	// system must not stay frozen. Each is bounded by its timeout.
	if failed := e.runHooks(context.WithoutCancel(ctx), "post", pod, plan.Post); failed != nil {
		e.problem("error", "pods", pod.Namespace, pod.Name, fmt.Sprintf("%v (onError Fail)", failed))
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// runHooks runs hooks in order. A failure with onError Continue is a
// warning and the next hook runs; one with Fail stops the phase and is
// returned.
func (e *engine) runHooks(ctx context.Context, phase string, pod hooks.Pod, list []hooks.Exec) error {
	for _, h := range list {
		if ctx.Err() != nil {
			return nil // stopped: the backup fails as a whole
		}
		e.result.Hooks.HooksAttempted++
		err := e.runner.Run(ctx, phase, pod, h)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil // stopped, not the hook's fault: the backup fails as a whole
		}
		e.result.Hooks.HooksFailed++
		if h.OnError == arkv1.HookErrorModeContinue {
			e.problem("warning", "pods", pod.Namespace, pod.Name, fmt.Sprintf("%v (onError Continue)", err))
			continue
		}
		return err
	}
	return nil
}

// withholdVolumes keeps a pod's claims, and the volumes bound to them, out
// of the backup: their resources are listed after pods, and backing them up
// (or snapshotting them) after the pod's pre hook failed would store just
// what the hook was there to prevent.
func (e *engine) withholdVolumes(ctx context.Context, pod *unstructured.Unstructured, reason string) {
	for _, ref := range podClaims(pod) {
		key := ref.Resource.String() + "/" + ref.Namespace + "/" + ref.Name
		e.withheld[key] = reason
		r, ok := e.Discovery.ForGroupResource(pvcResource)
		if !ok {
			continue
		}
		claim, err := e.Dynamic.Resource(r.GVR).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			continue // not there: nothing to withhold
		}
		if volume, _, _ := unstructured.NestedString(claim.Object, "spec", "volumeName"); volume != "" {
			e.withheld[pvResource.String()+"//"+volume] = reason
		}
	}
}
