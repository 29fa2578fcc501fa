package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Annotation prefixes of restore hooks, as Velero's with Ark's domain:
// init.hook.restore.ark.heptio.com/{container-image,container-name,command}
// and post.hook.restore.ark.heptio.com/{container,command,on-error,
// exec-timeout,wait-timeout}.
const (
	RestoreInitAnnotationPrefix = "init.hook.restore.ark.heptio.com/"
	RestoreExecAnnotationPrefix = "post.hook.restore.ark.heptio.com/"
)

// Defaults of restore exec hooks (Velero's, but for the wait: Velero waits
// forever by default, Ark bounds every wait).
const (
	DefaultRestoreOnError     = arkv1.HookErrorModeContinue
	DefaultRestoreWaitTimeout = 10 * time.Minute
	// DefaultInitContainerName names an annotation's init container that
	// gives no name.
	DefaultInitContainerName = "restore-hook"
)

// RestoreHooks are the hooks of one restore's spec, ready to be resolved
// for each restored pod.
type RestoreHooks struct {
	specs []restoreSpec
}

type restoreSpec struct {
	name  string
	sel   selector
	hooks []restoreHook
}

// restoreHook is one entry of postHooks: init containers or an exec.
type restoreHook struct {
	init []corev1.Container
	exec *arkv1.ExecRestoreHook
}

// RestorePlan is what one restored pod gets.
type RestorePlan struct {
	// Init are the init containers to put before the pod's own.
	Init []corev1.Container
	// Exec are the commands to run once the pod is Running, in order.
	Exec []Exec
	// Problems are hook annotations that cannot be used (the pod is
	// restored without them); each says what to fix.
	Problems []string
}

// Empty reports whether the pod gets no hooks.
func (p RestorePlan) Empty() bool { return len(p.Init) == 0 && len(p.Exec) == 0 }

// NewRestoreHooks prepares a restore's hook specs. It fails on a spec that
// ValidateRestoreHooks refuses.
func NewRestoreHooks(spec arkv1.RestoreHooks) (*RestoreHooks, error) {
	if problems := ValidateRestoreHooks(spec); len(problems) > 0 {
		return nil, fmt.Errorf("invalid hooks: %v", problems)
	}
	r := &RestoreHooks{}
	for _, res := range spec.Resources {
		sel, err := newSelector(restoreSelectorSpec(res))
		if err != nil {
			return nil, err
		}
		s := restoreSpec{name: res.Name, sel: sel}
		for _, h := range res.PostHooks {
			switch {
			case h.Init != nil:
				containers, errs := decodeInitContainers(res.Name, h.Init)
				if len(errs) > 0 {
					return nil, fmt.Errorf("invalid hooks: %v", errs)
				}
				s.hooks = append(s.hooks, restoreHook{init: containers})
			case h.Exec != nil:
				s.hooks = append(s.hooks, restoreHook{exec: h.Exec})
			}
		}
		r.specs = append(r.specs, s)
	}
	return r, nil
}

func restoreSelectorSpec(r arkv1.RestoreResourceHookSpec) selectorSpec {
	return selectorSpec{
		name:               r.Name,
		includedNamespaces: r.IncludedNamespaces, excludedNamespaces: r.ExcludedNamespaces,
		includedResources: r.IncludedResources, excludedResources: r.ExcludedResources,
		labelSelector: r.LabelSelector,
	}
}

// For resolves the hooks of a pod as it was backed up (its namespace before
// any mapping). Annotations take precedence over the spec, kind by kind:
// init annotations replace the spec's init hooks, exec annotations its
// exec hooks (Velero's rule).
func (r *RestoreHooks) For(p Pod) RestorePlan {
	var plan RestorePlan
	initFromAnnotations, problem := annotationInitContainer(p)
	if problem != "" {
		plan.Problems = append(plan.Problems, problem)
	}
	execFromAnnotations := annotationRestoreExec(p)
	if initFromAnnotations != nil {
		plan.Init = []corev1.Container{*initFromAnnotations}
	}
	if execFromAnnotations != nil {
		plan.Exec = []Exec{*execFromAnnotations}
	}
	if r == nil {
		return plan
	}
	for _, s := range r.specs {
		if !s.sel.matches(p) {
			continue
		}
		n := 0
		for _, h := range s.hooks {
			switch {
			case h.init != nil && initFromAnnotations == nil && problem == "":
				for _, c := range h.init {
					plan.Init = append(plan.Init, *c.DeepCopy())
				}
			case h.exec != nil && execFromAnnotations == nil:
				n++
				plan.Exec = append(plan.Exec, Exec{
					Source:      fmt.Sprintf("spec hook %q (exec %d)", s.name, n),
					Container:   h.exec.Container,
					Command:     h.exec.Command,
					OnError:     onErrorOr(h.exec.OnError, DefaultRestoreOnError),
					Timeout:     durationOr(h.exec.ExecTimeout.Duration, DefaultTimeout),
					WaitTimeout: durationOr(h.exec.WaitTimeout.Duration, DefaultRestoreWaitTimeout),
				})
			}
		}
	}
	return plan
}

func onErrorOr(m, def arkv1.HookErrorMode) arkv1.HookErrorMode {
	if m == "" {
		return def
	}
	return m
}

// annotationInitContainer reads the init container a pod's annotations
// give, or nil. A malformed one is a problem: the pod is restored without
// it, and the restore says so.
func annotationInitContainer(p Pod) (*corev1.Container, string) {
	a := p.Annotations
	key := func(k string) string { return RestoreInitAnnotationPrefix + k }
	image, hasImage := a[key("container-image")]
	command, hasCommand := a[key("command")]
	name, hasName := a[key("container-name")]
	if !hasImage && !hasCommand && !hasName {
		return nil, ""
	}
	if image == "" {
		return nil, fmt.Sprintf("pod %s has init hook annotations but no %s, so no init container was added: add the image (the API server requires one)", p, key("container-image"))
	}
	c := &corev1.Container{Name: name, Image: image}
	if c.Name == "" {
		c.Name = DefaultInitContainerName
	}
	if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
		return nil, fmt.Sprintf("pod %s: annotation %s is %q, not a valid container name (%s), so no init container was added: use lowercase letters, digits and '-'", p, key("container-name"), name, errs[0])
	}
	if hasCommand {
		cmd, err := parseCommand(key("command"), command)
		if err != nil {
			return nil, fmt.Sprintf("pod %s: %v; no init container was added", p, err)
		}
		c.Command = cmd
	}
	return c, ""
}

// annotationRestoreExec reads the exec hook a pod's annotations give, or
// nil. Malformed values make a hook whose Err says what to fix.
func annotationRestoreExec(p Pod) *Exec {
	a := p.Annotations
	key := func(k string) string { return RestoreExecAnnotationPrefix + k }
	command, ok := a[key("command")]
	if !ok {
		return nil
	}
	h := &Exec{Source: "annotations " + RestoreExecAnnotationPrefix + "*", Container: a[key("container")]}
	var errs []error
	var err error
	if h.OnError, err = parseOnError(key("on-error"), a[key("on-error")], DefaultRestoreOnError); err != nil {
		errs = append(errs, err)
	}
	if h.Timeout, err = parseTimeout(key("exec-timeout"), a[key("exec-timeout")], DefaultTimeout); err != nil {
		errs = append(errs, err)
	}
	if h.WaitTimeout, err = parseTimeout(key("wait-timeout"), a[key("wait-timeout")], DefaultRestoreWaitTimeout); err != nil {
		errs = append(errs, err)
	}
	if h.Command, err = parseCommand(key("command"), command); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		h.Err = joinErrors(errs)
	}
	return h
}

// decodeInitContainers reads an init hook's containers strictly: a field
// Kubernetes does not know is a typo worth refusing, not dropping.
func decodeInitContainers(hook string, init *arkv1.InitRestoreHook) ([]corev1.Container, []string) {
	var containers []corev1.Container
	var problems []string
	if len(init.InitContainers) == 0 {
		problems = append(problems, fmt.Sprintf("hook %q: init has no initContainers: give at least one container (name, image, command)", hook))
	}
	for i, raw := range init.InitContainers {
		where := fmt.Sprintf("hook %q: init.initContainers[%d]", hook, i)
		var c corev1.Container
		dec := json.NewDecoder(bytes.NewReader(raw.Raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			problems = append(problems, fmt.Sprintf("%s is not a container: %v (see 'kubectl explain pod.spec.initContainers')", where, err))
			continue
		}
		if errs := validation.IsDNS1123Label(c.Name); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("%s: name %q is not a valid container name (%s): use lowercase letters, digits and '-'", where, c.Name, errs[0]))
		}
		if c.Image == "" {
			problems = append(problems, fmt.Sprintf("%s (%s) has no image: give one (the API server requires it)", where, c.Name))
		}
		containers = append(containers, c)
	}
	return containers, problems
}

// ValidateRestoreHooks returns every problem of a restore's hook specs,
// each naming its fix. Restore validation (and so the CLI) uses it.
func ValidateRestoreHooks(spec arkv1.RestoreHooks) []string {
	var problems []string
	for _, r := range spec.Resources {
		problems = append(problems, validateSelector(restoreSelectorSpec(r))...)
		for i, h := range r.PostHooks {
			where := fmt.Sprintf("hook %q postHooks[%d]", r.Name, i)
			switch {
			case h.Exec != nil && h.Init != nil:
				problems = append(problems, where+" has both exec and init: give one per entry of postHooks")
			case h.Exec != nil:
				problems = append(problems, validateExec(where+".exec", h.Exec.Command, h.Exec.OnError, map[string]time.Duration{
					"execTimeout": h.Exec.ExecTimeout.Duration, "waitTimeout": h.Exec.WaitTimeout.Duration})...)
			case h.Init != nil:
				_, errs := decodeInitContainers(r.Name, h.Init)
				problems = append(problems, errs...)
			default:
				problems = append(problems, where+" has neither exec nor init: give one")
			}
		}
	}
	return problems
}
