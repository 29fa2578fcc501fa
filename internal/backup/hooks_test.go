package backup

import (
	"bytes"
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

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
)

// journal records, in order, the hooks run and the volumes snapshotted.
type journal struct {
	mu      sync.Mutex
	entries []string
	// fail makes commands whose first word it names exit non-zero.
	fail map[string]bool
	// snapshotErr fails every snapshot.
	snapshotErr error
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, s)
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return strings.Join(j.entries, ", ")
}

func (j *journal) Exec(ctx context.Context, ns, name, container string, command []string, stdout, stderr io.Writer) error {
	j.add(fmt.Sprintf("exec %s/%s[%s] %s", ns, name, container, strings.Join(command, " ")))
	if j.fail[command[0]] {
		fmt.Fprint(stderr, "it broke")
		return errors.New("the command exited with code 2")
	}
	return nil
}

func (j *journal) SnapshotVolume(_ context.Context, pv *unstructured.Unstructured, _ map[string]string) (*arkv1.VolumeBackupInfo, error) {
	j.add("snapshot " + pv.GetName())
	if j.snapshotErr != nil {
		return nil, j.snapshotErr
	}
	return &arkv1.VolumeBackupInfo{SnapshotID: "snap-" + pv.GetName()}, nil
}

// hookedPod is the fixture's pod a/pod, Running, with two containers and
// the given annotations.
func hookedObjects(phase string, annotations map[string]string) []runtime.Object {
	objs := fixture()
	for i, o := range objs {
		u := o.(*unstructured.Unstructured)
		if u.GetKind() != "Pod" {
			continue
		}
		u = u.DeepCopy()
		_ = unstructured.SetNestedSlice(u.Object, []any{
			map[string]any{"name": "app"}, map[string]any{"name": "fsfreeze"},
		}, "spec", "containers")
		if phase != "" {
			_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
		}
		u.SetAnnotations(annotations)
		objs[i] = u
	}
	return objs
}

func runWithHooks(t *testing.T, spec arkv1.BackupSpec, j *journal, objs ...runtime.Object) ([]string, *Result) {
	t.Helper()
	d, dyn := fakeCluster(t, objs...)
	var buf bytes.Buffer
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec},
		Discovery: d, Dynamic: dyn, Volumes: j, PodExec: j,
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.NewReader(&buf, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for {
		item, _, err := r.Next()
		if err != nil {
			break
		}
		paths = append(paths, item.Path())
	}
	return paths, res
}

func freezeSpec(onError arkv1.HookErrorMode) arkv1.BackupSpec {
	return arkv1.BackupSpec{IncludedNamespaces: []string{"a"}, Hooks: arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{
		Name:          "freeze",
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}},
		Pre: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Container: "fsfreeze", Command: []string{"freeze", "/data"}, OnError: onError}},
			{Exec: &arkv1.ExecHook{Command: []string{"flush"}}}},
		Post: []arkv1.BackupResourceHook{{Exec: &arkv1.ExecHook{Container: "fsfreeze", Command: []string{"thaw", "/data"}}}},
	}}}}
}

// Pre hooks, then the pod with its claim, volume and snapshot, then post
// hooks, in that order.
func TestHooksRunAroundThePodAndItsVolumes(t *testing.T) {
	j := &journal{}
	paths, res := runWithHooks(t, freezeSpec(""), j, hookedObjects("Running", nil)...)
	want := "exec a/pod[fsfreeze] freeze /data, exec a/pod[app] flush, snapshot vol, exec a/pod[fsfreeze] thaw /data"
	if j.String() != want {
		t.Fatalf("journal:\n got %s\nwant %s", j, want)
	}
	if res.Errors != 0 || res.Warnings != 0 || res.Hooks != (arkv1.HookStatus{HooksAttempted: 3}) {
		t.Errorf("errors %d warnings %d hooks %+v: %+v", res.Errors, res.Warnings, res.Hooks, res.Problems)
	}
	if !strings.Contains(strings.Join(paths, " "), "resources/pods/namespaces/a/pod.json") {
		t.Errorf("pod not backed up: %v", paths)
	}
}

// With onError Fail a failing pre hook keeps the pod, its claim and its
// volume (and the snapshot) out, the remaining pre hooks are not run, post
// hooks still run, and the backup has an error naming the hook.
func TestFailingPreHookWithFail(t *testing.T) {
	j := &journal{fail: map[string]bool{"freeze": true}}
	paths, res := runWithHooks(t, freezeSpec(arkv1.HookErrorModeFail), j, hookedObjects("Running", nil)...)
	if j.String() != "exec a/pod[fsfreeze] freeze /data, exec a/pod[fsfreeze] thaw /data" {
		t.Fatalf("journal: %s", j)
	}
	all := strings.Join(paths, " ")
	for _, gone := range []string{"pods/namespaces/a/pod", "persistentvolumeclaims/namespaces/a/claim", "persistentvolumes/cluster/vol"} {
		if strings.Contains(all, gone) {
			t.Errorf("%s was backed up after its pod's pre hook failed: %v", gone, paths)
		}
	}
	if !strings.Contains(all, "configmaps/namespaces/a/cm1") {
		t.Errorf("the rest of the namespace must be backed up: %v", paths)
	}
	if res.Errors != 1 || len(res.Problems) != 1 || res.Hooks != (arkv1.HookStatus{HooksAttempted: 2, HooksFailed: 1}) {
		t.Fatalf("errors %d hooks %+v problems %+v", res.Errors, res.Hooks, res.Problems)
	}
	msg := res.Problems[0].Message
	for _, w := range []string{`pre hook (spec hook "freeze" (pre 1)) in container "fsfreeze" of pod a/pod failed`, "exited with code 2", `stderr: "it broke"`, "not backed up"} {
		if !strings.Contains(msg, w) {
			t.Errorf("problem %q lacks %q", msg, w)
		}
	}
}

// With Continue the failure is a warning and the backup goes on as usual.
func TestFailingPreHookWithContinue(t *testing.T) {
	j := &journal{fail: map[string]bool{"freeze": true}}
	paths, res := runWithHooks(t, freezeSpec(arkv1.HookErrorModeContinue), j, hookedObjects("Running", nil)...)
	want := "exec a/pod[fsfreeze] freeze /data, exec a/pod[app] flush, snapshot vol, exec a/pod[fsfreeze] thaw /data"
	if j.String() != want {
		t.Fatalf("journal:\n got %s\nwant %s", j, want)
	}
	if res.Errors != 0 || res.Warnings != 1 || !strings.Contains(res.Problems[0].Message, "(onError Continue)") {
		t.Fatalf("errors %d warnings %d: %+v", res.Errors, res.Warnings, res.Problems)
	}
	if !strings.Contains(strings.Join(paths, " "), "resources/pods/namespaces/a/pod.json") {
		t.Errorf("pod not backed up: %v", paths)
	}
}

// A snapshot that fails does not keep the post hooks from running.
func TestPostHooksRunWhenTheSnapshotFails(t *testing.T) {
	j := &journal{snapshotErr: errors.New("disk gone")}
	_, res := runWithHooks(t, freezeSpec(""), j, hookedObjects("Running", nil)...)
	if !strings.HasSuffix(j.String(), "snapshot vol, exec a/pod[fsfreeze] thaw /data") {
		t.Fatalf("journal: %s", j)
	}
	if res.Errors != 1 || !strings.Contains(res.Problems[0].Message, "disk gone") {
		t.Fatalf("errors %d: %+v", res.Errors, res.Problems)
	}
}

// Annotation hooks and spec hooks on one backup: the annotation replaces
// the spec's pre hooks for that pod; the spec's post hooks still apply.
func TestAnnotationAndSpecHooksTogether(t *testing.T) {
	j := &journal{}
	objs := hookedObjects("Running", map[string]string{
		"pre.hook.backup.ark.heptio.com/container": "app",
		"pre.hook.backup.ark.heptio.com/command":   `["/bin/sh", "-c", "echo from-annotation"]`,
	})
	runWithHooks(t, freezeSpec(""), j, objs...)
	want := "exec a/pod[app] /bin/sh -c echo from-annotation, snapshot vol, exec a/pod[fsfreeze] thaw /data"
	if j.String() != want {
		t.Fatalf("journal:\n got %s\nwant %s", j, want)
	}
}

// A pod that is not Running is backed up without its hooks, with a warning
// naming it.
func TestHooksOfAPodNotRunningAreSkipped(t *testing.T) {
	j := &journal{}
	paths, res := runWithHooks(t, freezeSpec(""), j, hookedObjects("Pending", nil)...)
	if j.String() != "snapshot vol" {
		t.Fatalf("journal: %s", j)
	}
	if res.Warnings != 1 || !strings.Contains(res.Problems[0].Message, "hooks of pod a/pod not run: the pod is Pending, not Running") {
		t.Fatalf("warnings %d: %+v", res.Warnings, res.Problems)
	}
	if !strings.Contains(strings.Join(paths, " "), "resources/pods/namespaces/a/pod.json") {
		t.Errorf("pod not backed up: %v", paths)
	}
}

// A post hook that hangs is ended by its timeout and reported.
func TestHungPostHookTimesOut(t *testing.T) {
	j := &journal{}
	spec := freezeSpec("")
	spec.Hooks.Resources[0].Post[0].Exec.Timeout = metav1.Duration{Duration: 20 * time.Millisecond}
	d, dyn := fakeCluster(t, hookedObjects("Running", nil)...)
	res, err := Run(context.Background(), Options{
		Backup:    &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: spec},
		Discovery: d, Dynamic: dyn, Volumes: j, PodExec: hangingExec{j},
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 1 || !strings.Contains(res.Problems[0].Message, "did not finish within its timeout of 20ms") {
		t.Fatalf("errors %d: %+v", res.Errors, res.Problems)
	}
}

// hangingExec hangs on "thaw" until its context ends.
type hangingExec struct{ j *journal }

func (h hangingExec) Exec(ctx context.Context, ns, name, container string, command []string, stdout, stderr io.Writer) error {
	if command[0] == "thaw" {
		<-ctx.Done()
		return ctx.Err()
	}
	return h.j.Exec(ctx, ns, name, container, command, stdout, stderr)
}

func TestValidateRejectsHooksOnOtherResources(t *testing.T) {
	spec := freezeSpec("")
	spec.Hooks.Resources[0].IncludedResources = []string{"deployments"}
	errs := ValidateSpec(spec)
	if len(errs) != 1 || !strings.Contains(errs[0], `hook "freeze": includedResources names "deployments", but hooks run only in pods`) {
		t.Fatalf("ValidateSpec = %q", errs)
	}
}
