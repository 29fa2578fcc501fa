package backup

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/filter"
	"github.com/heptio/ark/internal/hooks"
	"github.com/heptio/ark/internal/kube"
)

// Validate returns every problem of a backup spec, each naming its fix, so the
// user can correct all of them at once. An empty result means valid. Resource
// names are resolved against the cluster's discovery.
func Validate(spec arkv1.BackupSpec, d *kube.Discovery) []string {
	errs := ValidateSpec(spec)
	_, unmatched := filter.Resources(d, nil, spec.IncludedResources, spec.ExcludedResources)
	for _, u := range unmatched {
		errs = append(errs, u.Err.Error())
	}
	return errs
}

// ValidateSpec is the part of Validate that needs no cluster: the lists, the
// label selector, the TTL and the hooks. The CLI and schedules use it before anything
// is sent to the server.
func ValidateSpec(spec arkv1.BackupSpec) []string {
	errs := filter.ValidateLists("namespace", spec.IncludedNamespaces, spec.ExcludedNamespaces)
	errs = append(errs, filter.ValidateLists("resource", spec.IncludedResources, spec.ExcludedResources)...)
	if spec.LabelSelector != nil {
		if _, err := metav1.LabelSelectorAsSelector(spec.LabelSelector); err != nil {
			errs = append(errs, fmt.Sprintf("invalid label selector: %v (example of a valid one: app=nginx,tier!=db)", err))
		}
	}
	if spec.TTL.Duration < 0 {
		errs = append(errs, fmt.Sprintf("ttl %s is negative: use a positive duration such as 720h", spec.TTL.Duration))
	}
	errs = append(errs, hooks.ValidateBackupHooks(spec.Hooks)...)
	return errs
}
