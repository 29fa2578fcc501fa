package restore

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
)

// Validate returns every problem of a restore spec, each naming its fix, so
// the user can correct all of them at once. It is the one validation of a
// restore: the controller runs it with the cluster's discovery and the
// backup's resource names, the CLI with neither (disc nil) before it sends
// anything.
//
// backedUp are the backup's "resource[.group]" names (its
// status.resourceCounts). A resource name is fine when the cluster serves it
// or when it names one of them: a custom resource whose CRD is only in the
// backup is served once the restore has created it. When backedUp is nil (an
// older backup that does not record them), names the cluster does not serve
// are accepted, and the restore warns about those that match nothing in the
// archive either.
func Validate(spec arkv1.RestoreSpec, disc *kube.Discovery, backup string, backedUp []string) []string {
	var problems []string
	if spec.BackupName == "" && spec.ScheduleName == "" {
		problems = append(problems, "backupName is empty: name the backup to restore (ark restore create --from-backup NAME), or a schedule whose newest Completed backup to restore (--from-schedule NAME)")
	}
	switch spec.ExistingResourcePolicy {
	case "", arkv1.ExistingResourcePolicyNone, arkv1.ExistingResourcePolicyUpdate:
	default:
		problems = append(problems, fmt.Sprintf("existingResourcePolicy %q is not a policy: use none (leave existing objects as they are) or update (patch them to the backed-up state)", spec.ExistingResourcePolicy))
	}
	if m := spec.ResourceModifier; m != nil {
		if m.Kind != "" && m.Kind != "ConfigMap" {
			problems = append(problems, fmt.Sprintf("resourceModifier.kind %q is not supported: the rules are in a ConfigMap (kind: ConfigMap)", m.Kind))
		}
		if m.Name == "" {
			problems = append(problems, "resourceModifier.name is empty: name the ConfigMap of rules (--resource-modifier-configmap NAME)")
		}
	}
	if rs := spec.RestoreStatus; rs != nil {
		problems = append(problems, filter.ValidateLists("restoreStatus resource", rs.IncludedResources, rs.ExcludedResources)...)
	}
	problems = append(problems, filter.ValidateLists("namespace", spec.IncludedNamespaces, spec.ExcludedNamespaces)...)
	problems = append(problems, filter.ValidateLists("resource", spec.IncludedResources, spec.ExcludedResources)...)
	if spec.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
			problems = append(problems, fmt.Sprintf("invalid label selector: %v (example of a valid one: app=nginx,tier!=db)", err))
		}
	}
	problems = append(problems, validateNamespaceMapping(spec.NamespaceMapping)...)
	problems = append(problems, hooks.ValidateRestoreHooks(spec.Hooks)...)
	if disc != nil && backedUp != nil {
		_, unmatched := filter.Resources(disc, backedUp, spec.IncludedResources, spec.ExcludedResources)
		if rs := spec.RestoreStatus; rs != nil {
			_, more := filter.Resources(disc, backedUp, rs.IncludedResources, rs.ExcludedResources)
			unmatched = append(unmatched, more...)
		}
		for _, u := range unmatched {
			problems = append(problems, fmt.Sprintf("%v; nor does backup %q hold a resource of that name (it has %s)", u.Err, backup, strings.Join(backedUp, ", ")))
		}
	}
	return problems
}

// validateNamespaceMapping checks both sides of every mapping, in a stable
// order.
func validateNamespaceMapping(mapping map[string]string) []string {
	var problems []string
	for _, src := range slices.Sorted(maps.Keys(mapping)) {
		dst := mapping[src]
		if strings.ContainsAny(src+dst, "*?[]") {
			problems = append(problems, fmt.Sprintf("namespace mapping %s:%s: wildcards are not supported, a mapping names one namespace on each side: list every namespace to map (--namespace-mappings src1:dst1,src2:dst2)", src, dst))
			continue
		}
		for _, ns := range []string{src, dst} {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("namespace mapping %s:%s: %q is not a valid namespace name (%s): use lowercase letters, digits and '-'", src, dst, ns, errs[0]))
			}
		}
	}
	return problems
}
