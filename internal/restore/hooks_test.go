package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	arkv1 "github.com/heptio/ark/api/v1"
)

// execJournal records the exec hooks run; commands named in fail exit 1.
type execJournal struct {
	mu   sync.Mutex
	ran  []string
	fail map[string]bool
}

func (j *execJournal) Exec(_ context.Context, ns, name, container string, command []string, _, stderr io.Writer) error {
	j.mu.Lock()
	j.ran = append(j.ran, fmt.Sprintf("%s/%s[%s] %s", ns, name, container, strings.Join(command, " ")))
	j.mu.Unlock()
	if j.fail[command[0]] {
		fmt.Fprint(stderr, "no such table")
		return errors.New("the command exited with code 1")
	}
	return nil
}

func (j *execJournal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.ran, ", ")
}

// nodeLike is a fake cluster whose pods start running as soon as they are
// created, except those named in stuck, which stay Pending.
func nodeLike(t *testing.T, stuck ...string) *hookedDynamic {
	fake := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		podsGVR: "PodList", {Version: "v1", Resource: "namespaces"}: "NamespaceList",
	})
	h := &hookedDynamic{Interface: fake, before: func(schema.GroupVersionResource, *unstructured.Unstructured) {}}
	h.after = func(gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
		if gvr != podsGVR {
			return
		}
		for _, s := range stuck {
			if obj.GetName() == s {
				return
			}
		}
		pods := fake.Resource(podsGVR).Namespace(obj.GetNamespace())
		pod, err := pods.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return // the create failed
		}
		containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
		var statuses []any
		for _, c := range containers {
			statuses = append(statuses, map[string]any{"name": c.(map[string]any)["name"], "state": map[string]any{"running": map[string]any{}}})
		}
		_ = unstructured.SetNestedField(pod.Object, "Running", "status", "phase")
		_ = unstructured.SetNestedSlice(pod.Object, statuses, "status", "containerStatuses")
		if _, err := pods.UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
			t.Errorf("marking pod %s running: %v", obj.GetName(), err)
		}
	}
	return h
}

func hookedPod(ns, name string, annotations map[string]any) backedUp {
	fields := map[string]any{"spec": map[string]any{
		"containers":     []any{map[string]any{"name": "db", "image": "postgres"}, map[string]any{"name": "side", "image": "busybox"}},
		"initContainers": []any{map[string]any{"name": "own-init", "image": "busybox"}},
	}, "labels": map[string]any{"app": "db"}}
	if annotations != nil {
		fields["annotations"] = annotations
	}
	return backedUp{"pods", newObj("v1", "Pod", ns, name, fields)}
}

func restoreHookSpec(t *testing.T) arkv1.RestoreHooks {
	return arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
		Name:               "db",
		IncludedNamespaces: []string{"src"},
		LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PostHooks: []arkv1.RestoreResourceHook{
			{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{{Raw: []byte(`{"name":"restore-data","image":"busybox","command":["sh","-c","echo hi"]}`)}}}},
			{Exec: &arkv1.ExecRestoreHook{Container: "side", Command: []string{"reindex"}, OnError: arkv1.HookErrorModeFail}},
			{Exec: &arkv1.ExecRestoreHook{Command: []string{"warm"}}},
		},
	}}}
}

// Init hooks go before the pod's own init containers; exec hooks run once
// the pod runs, in order, and the restore waits for them. Hook specs select
// on the backup's namespaces, and the hooks run in the mapped one.
func TestRestoreHooksInitAndExec(t *testing.T) {
	dyn := nodeLike(t)
	j := &execJournal{}
	res := run(t, Options{
		Restore: newRestore("r", arkv1.RestoreSpec{BackupName: "b", NamespaceMapping: map[string]string{"src": "dst"},
			Hooks: restoreHookSpec(t)}),
		Contents:  writeContents(t, hookedPod("src", "db-0", nil)),
		Discovery: fakeDiscovery(t),
		Dynamic:   dyn,
		PodExec:   j,
	})
	if j.String() != "dst/db-0[side] reindex, dst/db-0[db] warm" {
		t.Fatalf("exec hooks ran: %s", j)
	}
	if res.Hooks == nil || *res.Hooks != (arkv1.HookStatus{HooksAttempted: 2}) {
		t.Errorf("hook status %+v", res.Hooks)
	}
	if countResult(res.Errors)+countResult(res.Warnings) != 0 {
		t.Errorf("warnings %+v errors %+v", res.Warnings, res.Errors)
	}
	pod, err := dyn.Resource(podsGVR).Namespace("dst").Get(context.Background(), "db-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inits, _, _ := unstructured.NestedSlice(pod.Object, "spec", "initContainers")
	var names []string
	for _, c := range inits {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "restore-data,own-init" {
		t.Errorf("init containers %v, want the hook's first", names)
	}
}

// A failing hook with Fail is an error naming it and stops the pod's other
// hooks; with Continue it is a warning. Annotations replace the spec's exec
// hooks for their pod.
func TestRestoreHookFailures(t *testing.T) {
	dyn := nodeLike(t)
	j := &execJournal{fail: map[string]bool{"reindex": true, "annotated": true}}
	res := run(t, Options{
		Restore: newRestore("r", arkv1.RestoreSpec{BackupName: "b", Hooks: restoreHookSpec(t)}),
		Contents: writeContents(t, hookedPod("src", "spec-hooks", nil), hookedPod("src", "annotated", map[string]any{
			"post.hook.restore.ark.heptio.com/command": `["annotated", "x"]`,
		})),
		Discovery: fakeDiscovery(t),
		Dynamic:   dyn,
		PodExec:   j,
	})
	ran := j.String()
	if strings.Contains(ran, "warm") || !strings.Contains(ran, "src/spec-hooks[side] reindex") || !strings.Contains(ran, "src/annotated[db] annotated x") {
		t.Fatalf("exec hooks ran: %s", ran)
	}
	errs, warnings := strings.Join(res.Errors.Namespaces["src"], "\n"), strings.Join(res.Warnings.Namespaces["src"], "\n")
	if countResult(res.Errors) != 1 || !strings.Contains(errs, `restore exec hook (spec hook "db" (exec 1)) in container "side" of pod src/spec-hooks failed: the command exited with code 1 (stderr: "no such table") (onError Fail)`) {
		t.Errorf("errors:\n%s", errs)
	}
	if countResult(res.Warnings) != 1 || !strings.Contains(warnings, "pod src/annotated failed") || !strings.Contains(warnings, "(onError Continue)") {
		t.Errorf("warnings:\n%s", warnings)
	}
	if *res.Hooks != (arkv1.HookStatus{HooksAttempted: 2, HooksFailed: 2}) {
		t.Errorf("hook status %+v", res.Hooks)
	}
}

// A pod that never runs fails its hooks when their wait timeout passes, and
// the restore ends then rather than waiting forever.
func TestRestoreHookWaitTimeout(t *testing.T) {
	dyn := nodeLike(t, "stuck")
	j := &execJournal{}
	spec := restoreHookSpec(t)
	spec.Resources[0].PostHooks[1].Exec.WaitTimeout = metav1.Duration{Duration: 300 * time.Millisecond}
	start := time.Now()
	res := run(t, Options{
		Restore:   newRestore("r", arkv1.RestoreSpec{BackupName: "b", Hooks: spec}),
		Contents:  writeContents(t, hookedPod("src", "stuck", nil)),
		Discovery: fakeDiscovery(t),
		Dynamic:   dyn,
		PodExec:   j,
	})
	if j.String() != "" {
		t.Fatalf("hooks ran in a pod that never ran: %s", j)
	}
	errs := strings.Join(res.Errors.Namespaces["src"], "\n")
	if !strings.Contains(errs, "not run: the container did not start running within the wait timeout of 300ms (pod stuck: phase Pending)") {
		t.Errorf("errors:\n%s", errs)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the restore took %s", took)
	}
}

func TestRestoreRejectsInvalidHooks(t *testing.T) {
	spec := arkv1.RestoreSpec{BackupName: "b", Hooks: arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
		Name: "x", IncludedResources: []string{"deployments"},
	}}}}
	if problems := Validate(spec, nil, "", nil); len(problems) != 1 || !strings.Contains(problems[0], "hooks run only in pods") {
		t.Errorf("Validate = %q", problems)
	}
	_, err := Run(context.Background(), Options{Restore: newRestore("r", spec), Contents: writeContents(t), Discovery: fakeDiscovery(t), Dynamic: newFakeCluster()})
	if err == nil || !strings.Contains(err.Error(), "hooks run only in pods") {
		t.Errorf("Run = %v", err)
	}
}

func countResult(r arkv1.RestoreResult) int {
	n := len(r.Ark) + len(r.Cluster)
	for _, msgs := range r.Namespaces {
		n += len(msgs)
	}
	return n
}
