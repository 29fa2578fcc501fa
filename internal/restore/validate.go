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
	if spec.BackupName == "" {
		problems = append(problems, "backupName is empty: name the backup to restore (ark restore create --from-backup NAME)")
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
		for _, ns := range []string{src, dst} {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("namespace mapping %s:%s: %q is not a valid namespace name (%s): use lowercase letters, digits and '-'", src, dst, ns, errs[0]))
			}
		}
	}
	return problems
}
