package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	arkv1 "github.com/heptio/ark/api/v1"
)

func pod(ns, name string, labels, annotations map[string]string, containers ...string) Pod {
	return Pod{Namespace: ns, Name: name, Labels: labels, Annotations: annotations, Containers: containers, Phase: "Running"}
}

func execHook(container string, onError arkv1.HookErrorMode, timeout time.Duration, command ...string) arkv1.BackupResourceHook {
	return arkv1.BackupResourceHook{Exec: &arkv1.ExecHook{Container: container, Command: command, OnError: onError, Timeout: metav1.Duration{Duration: timeout}}}
}

func commands(list []Exec) string {
	var out []string
	for _, e := range list {
		out = append(out, strings.Join(e.Command, " "))
	}
	return strings.Join(out, " | ")
}

func TestBackupSpecHooksSelectPods(t *testing.T) {
	b, err := NewBackupHooks(arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
		{
			Name:               "db",
			IncludedNamespaces: []string{"prod"},
			IncludedResources:  []string{"po"},
			LabelSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Hooks:              []arkv1.BackupResourceHook{execHook("", "", 0, "legacy")},
			Pre:                []arkv1.BackupResourceHook{execHook("sidecar", arkv1.HookErrorModeContinue, 5*time.Second, "freeze")},
			Post:               []arkv1.BackupResourceHook{execHook("", "", 0, "thaw")},
		},
		{Name: "everything", Post: []arkv1.BackupResourceHook{execHook("", "", 0, "sync")}},
		{Name: "no-pods", ExcludedResources: []string{"pods"}, Pre: []arkv1.BackupResourceHook{execHook("", "", 0, "never")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	plan := b.For(pod("prod", "db-0", map[string]string{"app": "db"}, nil, "db", "sidecar"))
	if got := commands(plan.Pre); got != "legacy | freeze" {
		t.Errorf("pre = %q, want the deprecated hooks, then pre", got)
	}
	if got := commands(plan.Post); got != "thaw | sync" {
		t.Errorf("post = %q, want the specs' post hooks in order", got)
	}
	first := plan.Pre[0]
	if first.OnError != arkv1.HookErrorModeFail || first.Timeout != DefaultTimeout || first.Container != "" {
		t.Errorf("defaults not applied: %+v", first)
	}
	second := plan.Pre[1]
	if second.OnError != arkv1.HookErrorModeContinue || second.Timeout != 5*time.Second || second.Container != "sidecar" || !strings.Contains(second.Source, `"db"`) {
		t.Errorf("spec values not kept: %+v", second)
	}

	for _, p := range []Pod{
		pod("dev", "db-0", map[string]string{"app": "db"}, nil, "db"),   // other namespace
		pod("prod", "web", map[string]string{"app": "web"}, nil, "web"), // other labels
	} {
		plan := b.For(p)
		if len(plan.Pre) != 0 || commands(plan.Post) != "sync" {
			t.Errorf("pod %s: pre %q post %q, want only the catch-all post hook", p, commands(plan.Pre), commands(plan.Post))
		}
	}
}

func TestBackupAnnotationsTakePrecedencePerPhase(t *testing.T) {
	b, err := NewBackupHooks(arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{
		Name: "spec",
		Pre:  []arkv1.BackupResourceHook{execHook("", "", 0, "spec-pre")},
		Post: []arkv1.BackupResourceHook{execHook("", "", 0, "spec-post")},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		annotations map[string]string
		pre, post   string
	}{
		{"none", nil, "spec-pre", "spec-post"},
		{"pre annotation, JSON array", map[string]string{
			"pre.hook.backup.ark.heptio.com/command": `["/bin/sh", "-c", "echo hi"]`,
		}, "/bin/sh -c echo hi", "spec-post"},
		{"post annotation, single command", map[string]string{
			"post.hook.backup.ark.heptio.com/command": "/sbin/sync",
		}, "spec-pre", "/sbin/sync"},
		{"legacy un-prefixed means pre", map[string]string{
			"hook.backup.ark.heptio.com/command": `["legacy"]`,
		}, "legacy", "spec-post"},
		{"pre. wins over legacy", map[string]string{
			"hook.backup.ark.heptio.com/command":     `["legacy"]`,
			"pre.hook.backup.ark.heptio.com/command": `["new"]`,
		}, "new", "spec-post"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := b.For(pod("ns", "p", nil, c.annotations, "app"))
			if commands(plan.Pre) != c.pre || commands(plan.Post) != c.post {
				t.Errorf("pre %q post %q, want %q and %q", commands(plan.Pre), commands(plan.Post), c.pre, c.post)
			}
		})
	}
}

func TestBackupAnnotationValues(t *testing.T) {
	p := pod("ns", "p", nil, map[string]string{
		"pre.hook.backup.ark.heptio.com/container": "side",
		"pre.hook.backup.ark.heptio.com/command":   `["x"]`,
		"pre.hook.backup.ark.heptio.com/on-error":  "Continue",
		"pre.hook.backup.ark.heptio.com/timeout":   "2m",
		// A container without a command makes no hook.
		"post.hook.backup.ark.heptio.com/container": "side",
	}, "app", "side")
	plan := (*BackupHooks)(nil).For(p)
	if len(plan.Pre) != 1 || len(plan.Post) != 0 {
		t.Fatalf("plan %+v", plan)
	}
	h := plan.Pre[0]
	if h.Container != "side" || h.OnError != arkv1.HookErrorModeContinue || h.Timeout != 2*time.Minute || h.Err != nil {
		t.Errorf("hook %+v", h)
	}
	if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "post.hook.backup.ark.heptio.com/command") {
		t.Errorf("warnings %q, want one naming the missing post command", plan.Warnings)
	}

	bad := pod("ns", "p", nil, map[string]string{
		"pre.hook.backup.ark.heptio.com/command":  `["unclosed"`,
		"pre.hook.backup.ark.heptio.com/on-error": "Sometimes",
		"pre.hook.backup.ark.heptio.com/timeout":  "soon",
	}, "app")
	plan = (*BackupHooks)(nil).For(bad)
	if len(plan.Pre) != 1 || plan.Pre[0].Err == nil {
		t.Fatalf("a malformed annotation must make a failing hook: %+v", plan)
	}
	msg := plan.Pre[0].Err.Error()
	for _, want := range []string{"not a JSON array", "use Continue or Fail", "not a duration"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if plan.Pre[0].OnError != arkv1.HookErrorModeFail {
		t.Errorf("a malformed on-error must leave the default Fail, got %s", plan.Pre[0].OnError)
	}
}

func TestValidateBackupHooks(t *testing.T) {
	problems := ValidateBackupHooks(arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{
		{Name: "ok", IncludedResources: []string{"pods"}, Pre: []arkv1.BackupResourceHook{execHook("", "", 0, "x")}},
		{Name: "deploys", IncludedResources: []string{"pods", "deployments"}, ExcludedResources: []string{"configmaps"}},
		{Name: "broken", Pre: []arkv1.BackupResourceHook{{}}, Post: []arkv1.BackupResourceHook{execHook("", "Maybe", -time.Second)},
			LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Bogus"}}}},
		{Pre: []arkv1.BackupResourceHook{execHook("", "", 0, "x")}},
	}})
	want := []string{
		`hook "deploys": includedResources names "deployments", but hooks run only in pods`,
		`hook "deploys": excludedResources names "configmaps"`,
		`hook "broken": invalid label selector`,
		`hook "broken" pre[0] has no exec`,
		`hook "broken" post[0] has no command`,
		`hook "broken" post[0]: onError is "Maybe": use Continue or Fail`,
		`hook "broken" post[0]: timeout -1s is negative`,
		"a resource hook has no name",
	}
	joined := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), joined)
	}
	if _, err := NewBackupHooks(arkv1.BackupHooks{Resources: []arkv1.BackupResourceHookSpec{{Name: "x", IncludedResources: []string{"secrets"}}}}); err == nil {
		t.Error("NewBackupHooks accepted a hook on secrets")
	}
}

// fakeExecutor records the commands it runs; a command "fail" exits 1 with
// stderr, "hang" blocks until its context ends, "noisy" writes a lot.
type fakeExecutor struct {
	mu  sync.Mutex
	ran []string
}

func (f *fakeExecutor) Exec(ctx context.Context, ns, name, container string, command []string, stdout, stderr io.Writer) error {
	f.mu.Lock()
	f.ran = append(f.ran, fmt.Sprintf("%s/%s[%s]: %s", ns, name, container, strings.Join(command, " ")))
	f.mu.Unlock()
	switch command[0] {
	case "fail":
		fmt.Fprint(stderr, "disk is read-only\n")
		return fmt.Errorf("the command exited with code 1")
	case "hang":
		<-ctx.Done()
		return ctx.Err()
	case "noisy":
		for range 100 {
			fmt.Fprint(stdout, strings.Repeat("y", 1000))
		}
		return nil
	}
	fmt.Fprintf(stdout, "ran %s", command[0])
	return nil
}

func TestRunner(t *testing.T) {
	var logBuf bytes.Buffer
	ex := &fakeExecutor{}
	r := &Runner{Executor: ex, Log: slog.New(slog.NewTextHandler(&logBuf, nil)), MaxOutput: 1000}
	p := pod("ns", "p", nil, nil, "app", "side")
	ctx := context.Background()

	if err := r.Run(ctx, "pre", p, Exec{Source: "test", Command: []string{"ok"}, Timeout: time.Second}); err != nil {
		t.Fatalf("ok: %v", err)
	}
	if ex.ran[0] != "ns/p[app]: ok" {
		t.Errorf("ran %q: the default container is the first", ex.ran[0])
	}
	if !strings.Contains(logBuf.String(), `msg="hook succeeded" phase=pre hook=test pod=ns/p container=app`) || !strings.Contains(logBuf.String(), `stdout="ran ok"`) {
		t.Errorf("log lacks the success and its output:\n%s", logBuf.String())
	}

	err := r.Run(ctx, "post", p, Exec{Source: "test", Container: "side", Command: []string{"fail"}, OnError: arkv1.HookErrorModeFail})
	if err == nil || !strings.Contains(err.Error(), `post hook (test) in container "side" of pod ns/p failed: the command exited with code 1 (stderr: "disk is read-only")`) {
		t.Errorf("fail: %v", err)
	}

	start := time.Now()
	err = r.Run(ctx, "pre", p, Exec{Source: "test", Command: []string{"hang"}, Timeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not finish within its timeout of 50ms") {
		t.Errorf("hang: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a hung hook held the runner for %s", took)
	}

	logBuf.Reset()
	if err := r.Run(ctx, "pre", p, Exec{Source: "test", Command: []string{"noisy"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logBuf.String(), "[99000 more bytes not kept]") {
		t.Errorf("output not bounded:\n%.300s", logBuf.String())
	}

	err = r.Run(ctx, "pre", p, Exec{Source: "test", Container: "nope", Command: []string{"ok"}})
	if err == nil || !strings.Contains(err.Error(), `container "nope" is not in pod ns/p (it has ["app" "side"])`) {
		t.Errorf("missing container: %v", err)
	}
	err = r.Run(ctx, "pre", p, Exec{Source: "test", Command: []string{"ok"}, Err: fmt.Errorf("annotation x is bad")})
	if err == nil || !strings.Contains(err.Error(), "annotation x is bad") {
		t.Errorf("unreadable hook: %v", err)
	}
	if len(ex.ran) != 4 {
		t.Errorf("ran %q: hooks that cannot run must not reach the executor", ex.ran)
	}
	err = (&Runner{}).Run(ctx, "pre", p, Exec{Source: "test", Command: []string{"ok"}})
	if err == nil || !strings.Contains(err.Error(), "cannot exec into pods") {
		t.Errorf("no executor: %v", err)
	}
}

func TestBoundedBuffer(t *testing.T) {
	b := newBoundedBuffer(5)
	for _, s := range []string{"ab", "cdef", "gh"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: a bounded buffer must drain the stream", s, n, err)
		}
	}
	if got := b.String(); got != "abcde... [3 more bytes not kept]" {
		t.Errorf("String() = %q", got)
	}
	if got := b.tail(2); got != "...de" {
		t.Errorf("tail = %q", got)
	}
}

func rawContainer(t *testing.T, json string) runtime.RawExtension {
	t.Helper()
	return runtime.RawExtension{Raw: []byte(json)}
}

func TestRestoreHooks(t *testing.T) {
	r, err := NewRestoreHooks(arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
		Name:               "restore-db",
		IncludedNamespaces: []string{"prod"},
		PostHooks: []arkv1.RestoreResourceHook{
			{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{
				rawContainer(t, `{"name":"restore-data","image":"busybox","command":["sh","-c","cp /backup/* /data/"],"volumeMounts":[{"name":"data","mountPath":"/data"}]}`),
			}}},
			{Exec: &arkv1.ExecRestoreHook{Container: "db", Command: []string{"reindex"}, OnError: arkv1.HookErrorModeFail, ExecTimeout: metav1.Duration{Duration: time.Minute}}},
			{Exec: &arkv1.ExecRestoreHook{Command: []string{"warm"}}},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	plan := r.For(pod("prod", "db-0", nil, nil, "db"))
	if len(plan.Init) != 1 || plan.Init[0].Name != "restore-data" || plan.Init[0].VolumeMounts[0].MountPath != "/data" {
		t.Errorf("init %+v", plan.Init)
	}
	if commands(plan.Exec) != "reindex | warm" {
		t.Fatalf("exec %q", commands(plan.Exec))
	}
	if e := plan.Exec[0]; e.OnError != arkv1.HookErrorModeFail || e.Timeout != time.Minute || e.WaitTimeout != DefaultRestoreWaitTimeout {
		t.Errorf("exec 0 %+v", e)
	}
	if e := plan.Exec[1]; e.OnError != arkv1.HookErrorModeContinue || e.Timeout != DefaultTimeout {
		t.Errorf("exec 1 must get the defaults (Continue, 30s): %+v", e)
	}
	if !r.For(pod("dev", "db-0", nil, nil, "db")).Empty() {
		t.Error("a pod of another namespace got hooks")
	}

	// Annotations replace the spec, kind by kind.
	annotated := pod("prod", "db-1", nil, map[string]string{
		"init.hook.restore.ark.heptio.com/container-image": "alpine",
		"init.hook.restore.ark.heptio.com/command":         `["/bin/ash", "-c", "date"]`,
		"post.hook.restore.ark.heptio.com/command":         "touch",
		"post.hook.restore.ark.heptio.com/container":       "db",
		"post.hook.restore.ark.heptio.com/on-error":        "Fail",
		"post.hook.restore.ark.heptio.com/exec-timeout":    "5s",
		"post.hook.restore.ark.heptio.com/wait-timeout":    "1m",
	}, "db")
	plan = r.For(annotated)
	if len(plan.Init) != 1 || plan.Init[0].Name != DefaultInitContainerName || plan.Init[0].Image != "alpine" || strings.Join(plan.Init[0].Command, " ") != "/bin/ash -c date" {
		t.Errorf("init from annotations %+v", plan.Init)
	}
	if len(plan.Exec) != 1 {
		t.Fatalf("exec %+v", plan.Exec)
	}
	if e := plan.Exec[0]; strings.Join(e.Command, " ") != "touch" || e.Container != "db" || e.OnError != arkv1.HookErrorModeFail || e.Timeout != 5*time.Second || e.WaitTimeout != time.Minute {
		t.Errorf("exec from annotations %+v", e)
	}

	noImage := pod("other", "p", nil, map[string]string{"init.hook.restore.ark.heptio.com/command": "date"}, "app")
	plan = r.For(noImage)
	if len(plan.Init) != 0 || len(plan.Problems) != 1 || !strings.Contains(plan.Problems[0], "container-image") {
		t.Errorf("init annotations without an image: %+v", plan)
	}
}

func TestValidateRestoreHooks(t *testing.T) {
	problems := ValidateRestoreHooks(arkv1.RestoreHooks{Resources: []arkv1.RestoreResourceHookSpec{{
		Name:              "bad",
		IncludedResources: []string{"deployments"},
		PostHooks: []arkv1.RestoreResourceHook{
			{},
			{Exec: &arkv1.ExecRestoreHook{Command: []string{"x"}}, Init: &arkv1.InitRestoreHook{}},
			{Exec: &arkv1.ExecRestoreHook{WaitTimeout: metav1.Duration{Duration: -time.Minute}}},
			{Init: &arkv1.InitRestoreHook{InitContainers: []runtime.RawExtension{
				rawContainer(t, `{"name":"x","image":"busybox","comand":["typo"]}`),
				rawContainer(t, `{"name":"Not_A_Name"}`),
			}}},
			{Init: &arkv1.InitRestoreHook{}},
		},
	}}})
	want := []string{
		`includedResources names "deployments", but hooks run only in pods`,
		`postHooks[0] has neither exec nor init`,
		`postHooks[1] has both exec and init`,
		`postHooks[2].exec has no command`,
		`postHooks[2].exec: waitTimeout -1m0s is negative`,
		`init.initContainers[0] is not a container: json: unknown field "comand"`,
		`init.initContainers[1]: name "Not_A_Name" is not a valid container name`,
		`init.initContainers[1] (Not_A_Name) has no image`,
		`init has no initContainers`,
	}
	joined := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("problems lack %q:\n%s", w, joined)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), joined)
	}
}
