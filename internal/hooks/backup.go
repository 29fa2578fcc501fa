package hooks

import (
	"fmt"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Annotation prefixes of backup hooks; each is followed by container,
// command, on-error or timeout. The un-prefixed one is Heptio Ark's
// original form of a pre hook.
const (
	BackupPreAnnotationPrefix    = "pre.hook.backup.ark.heptio.com/"
	BackupPostAnnotationPrefix   = "post.hook.backup.ark.heptio.com/"
	BackupLegacyAnnotationPrefix = "hook.backup.ark.heptio.com/"
)

// DefaultBackupOnError is what a failing backup hook does unless told
// otherwise (Heptio Ark's default): the pod is not backed up.
const DefaultBackupOnError = arkv1.HookErrorModeFail

// BackupHooks are the hooks of one backup's spec, ready to be resolved for
// each pod.
type BackupHooks struct {
	specs []backupSpec
}

type backupSpec struct {
	name      string
	sel       selector
	pre, post []arkv1.BackupResourceHook
}

// BackupPlan is what to run in one pod around its backup.
type BackupPlan struct {
	Pre, Post []Exec
	// Warnings are hook annotations that cannot make a hook (a container
	// without a command); they are reported, not run.
	Warnings []string
}

// Empty reports whether the pod has no hooks.
func (p BackupPlan) Empty() bool { return len(p.Pre) == 0 && len(p.Post) == 0 }

// NewBackupHooks prepares a backup's hook specs. It fails on a spec that
// ValidateBackupHooks refuses.
func NewBackupHooks(spec arkv1.BackupHooks) (*BackupHooks, error) {
	if problems := ValidateBackupHooks(spec); len(problems) > 0 {
		return nil, fmt.Errorf("invalid hooks: %v", problems)
	}
	b := &BackupHooks{}
	for _, r := range spec.Resources {
		sel, err := newSelector(backupSelectorSpec(r))
		if err != nil {
			return nil, err
		}
		// The deprecated "hooks" are pre hooks that run first.
		pre := append(append([]arkv1.BackupResourceHook(nil), r.Hooks...), r.Pre...)
		b.specs = append(b.specs, backupSpec{name: r.Name, sel: sel, pre: pre, post: r.Post})
	}
	return b, nil
}

func backupSelectorSpec(r arkv1.BackupResourceHookSpec) selectorSpec {
	return selectorSpec{
		name:               r.Name,
		includedNamespaces: r.IncludedNamespaces, excludedNamespaces: r.ExcludedNamespaces,
		includedResources: r.IncludedResources, excludedResources: r.ExcludedResources,
		labelSelector: r.LabelSelector,
	}
}

// For resolves the hooks of a pod. For each of pre and post, the pod's
// annotations, when they give a command, replace the spec's hooks (Heptio
// Ark's precedence); the legacy un-prefixed annotations count as pre when
// there is no pre.hook one. Otherwise every spec entry that selects the
// pod contributes its hooks, in the order of the spec.
func (b *BackupHooks) For(p Pod) BackupPlan {
	var plan BackupPlan
	pre, warn := annotationHook(p, BackupPreAnnotationPrefix)
	plan.Warnings = append(plan.Warnings, warn...)
	if pre == nil {
		pre, warn = annotationHook(p, BackupLegacyAnnotationPrefix)
		plan.Warnings = append(plan.Warnings, warn...)
	}
	post, warn := annotationHook(p, BackupPostAnnotationPrefix)
	plan.Warnings = append(plan.Warnings, warn...)

	if pre != nil {
		plan.Pre = []Exec{*pre}
	}
	if post != nil {
		plan.Post = []Exec{*post}
	}
	if b == nil {
		return plan
	}
	for _, s := range b.specs {
		if !s.sel.matches(p) {
			continue
		}
		if pre == nil {
			plan.Pre = append(plan.Pre, specExecs(s.name, "pre", s.pre)...)
		}
		if post == nil {
			plan.Post = append(plan.Post, specExecs(s.name, "post", s.post)...)
		}
	}
	return plan
}

func specExecs(name, phase string, hooks []arkv1.BackupResourceHook) []Exec {
	out := make([]Exec, 0, len(hooks))
	for i, h := range hooks {
		onError := h.Exec.OnError
		if onError == "" {
			onError = DefaultBackupOnError
		}
		out = append(out, Exec{
			Source:    fmt.Sprintf("spec hook %q (%s %d)", name, phase, i+1),
			Container: h.Exec.Container,
			Command:   h.Exec.Command,
			OnError:   onError,
			Timeout:   durationOr(h.Exec.Timeout.Duration, DefaultTimeout),
		})
	}
	return out
}

// annotationHook reads the hook a pod's annotations give under prefix, or
// nil when they give none. A malformed value makes a hook whose Err says
// what to fix, so the failure is reported under the hook's onError like any
// other; annotations without a command are only a warning.
func annotationHook(p Pod, prefix string) (*Exec, []string) {
	a := p.Annotations
	key := func(k string) string { return prefix + k }
	command, hasCommand := a[key("command")]
	if !hasCommand {
		var warnings []string
		for _, k := range []string{"container", "on-error", "timeout"} {
			if _, ok := a[key(k)]; ok {
				warnings = append(warnings, fmt.Sprintf("pod %s has annotation %s but no %s, so no hook runs: add %s with the command", p, key(k), key("command"), key("command")))
			}
		}
		return nil, warnings
	}
	h := &Exec{Source: "annotations " + prefix + "*", Container: a[key("container")]}
	var errs []error
	var err error
	if h.OnError, err = parseOnError(key("on-error"), a[key("on-error")], DefaultBackupOnError); err != nil {
		errs = append(errs, err)
	}
	if h.Timeout, err = parseTimeout(key("timeout"), a[key("timeout")], DefaultTimeout); err != nil {
		errs = append(errs, err)
	}
	if h.Command, err = parseCommand(key("command"), command); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		h.Err = joinErrors(errs)
	}
	return h, nil
}

// ValidateBackupHooks returns every problem of a backup's hook specs, each
// naming its fix. Backup validation (and so the CLI) uses it.
func ValidateBackupHooks(spec arkv1.BackupHooks) []string {
	var problems []string
	for _, r := range spec.Resources {
		problems = append(problems, validateSelector(backupSelectorSpec(r))...)
		for _, list := range []struct {
			field string
			hooks []arkv1.BackupResourceHook
		}{{"hooks", r.Hooks}, {"pre", r.Pre}, {"post", r.Post}} {
			for i, h := range list.hooks {
				where := fmt.Sprintf("hook %q %s[%d]", r.Name, list.field, i)
				if h.Exec == nil {
					problems = append(problems, where+" has no exec: give exec.command (and optionally container, onError, timeout)")
					continue
				}
				problems = append(problems, validateExec(where, h.Exec.Command, h.Exec.OnError, map[string]time.Duration{"timeout": h.Exec.Timeout.Duration})...)
			}
		}
	}
	return problems
}
