package hooks

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// WaitForContainer waits until the named container of a pod is running,
// watching that one pod (client-go's UntilWithSync: a list, then a watch
// that is resumed if the connection drops). It fails when timeout has
// passed since since, or when the pod ends or is deleted, saying in what
// state the pod was. pods is the pods client of the pod's namespace; an
// empty container means the pod's first.
func WaitForContainer(ctx context.Context, pods dynamic.ResourceInterface, name, container string, since time.Time, timeout time.Duration) error {
	waitCtx, cancel := context.WithDeadline(ctx, since.Add(timeout))
	defer cancel()
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return pods.Watch(ctx, o)
		},
	}
	last := "not created yet"
	var ended error
	_, err := watchtools.UntilWithSync(waitCtx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			ended = fmt.Errorf("pod %s was deleted before its hooks could run", name)
			return false, ended
		}
		pod, ok := ev.Object.(*unstructured.Unstructured)
		if !ok {
			return false, nil
		}
		running, state := containerState(pod, container)
		last = state
		if phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase"); phase == "Succeeded" || phase == "Failed" {
			ended = fmt.Errorf("pod %s ended (phase %s) before its hooks could run", name, phase)
			return false, ended
		}
		return running, nil
	})
	switch {
	case err == nil:
		return nil
	case ended != nil:
		return ended
	case ctx.Err() != nil:
		return ctx.Err() // the operation was stopped
	case waitCtx.Err() != nil:
		return fmt.Errorf("the container did not start running within the wait timeout of %s (pod %s: %s)", timeout, name, last)
	}
	return fmt.Errorf("waiting for pod %s: %w", name, err)
}

// containerState reports whether the container runs, and a short account of
// where the pod is for messages.
func containerState(pod *unstructured.Unstructured, container string) (bool, string) {
	phase, _, _ := unstructured.NestedString(pod.Object, "status", "phase")
	if phase == "" {
		phase = "Pending"
	}
	if container == "" {
		containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
		if len(containers) > 0 {
			if c, ok := containers[0].(map[string]any); ok {
				container, _ = c["name"].(string)
			}
		}
	}
	statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", "containerStatuses")
	for _, s := range statuses {
		st, ok := s.(map[string]any)
		if !ok || st["name"] != container {
			continue
		}
		state, _ := st["state"].(map[string]any)
		if _, running := state["running"]; running {
			return true, "phase " + phase + ", container " + container + " running"
		}
		if w, ok := state["waiting"].(map[string]any); ok {
			reason, _ := w["reason"].(string)
			return false, fmt.Sprintf("phase %s, container %s waiting (%s)", phase, container, reason)
		}
		if t, ok := state["terminated"].(map[string]any); ok {
			reason, _ := t["reason"].(string)
			return false, fmt.Sprintf("phase %s, container %s terminated (%s)", phase, container, reason)
		}
	}
	if reason := podWaitReason(pod); reason != "" {
		return false, "phase " + phase + ": " + reason
	}
	return false, "phase " + phase
}

// podWaitReason is the message of the first condition that is not true
// (unschedulable, init containers not done, ...).
func podWaitReason(pod *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(pod.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["status"] == "True" {
			continue
		}
		t, _ := m["type"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return fmt.Sprintf("%s is not true (%s %s)", t, reason, msg)
	}
	return ""
}
