package restore

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// namespaceNameLabel is the label the API server puts on every namespace,
// with its name as the value: selectors use it to pick namespaces by name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// Archive resource names of the objects that name other namespaces.
const (
	roleBindingsKey        = "rolebindings.rbac.authorization.k8s.io"
	clusterRoleBindingsKey = "clusterrolebindings.rbac.authorization.k8s.io"
	clusterRolesKey        = "clusterroles.rbac.authorization.k8s.io"
	serviceAccountsKey     = "serviceaccounts"
	networkPoliciesKey     = "networkpolicies.networking.k8s.io"
	endpointsKey           = "endpoints"
	endpointSlicesKey      = "endpointslices.discovery.k8s.io"
	apiServicesKey         = "apiservices.apiregistration.k8s.io"
	validatingWebhooksKey  = "validatingwebhookconfigurations.admissionregistration.k8s.io"
	mutatingWebhooksKey    = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
	validatingBindingsKey  = "validatingadmissionpolicybindings.admissionregistration.k8s.io"
	mutatingBindingsKey    = "mutatingadmissionpolicybindings.admissionregistration.k8s.io"
	snapshotContentsKey    = "volumesnapshotcontents.snapshot.storage.k8s.io"
)

// podSpecPaths are where each workload keeps the pod spec its pods are made
// from.
var podSpecPaths = map[string][]string{
	podsKey:                  {"spec"},
	"podtemplates":           {"template", "spec"},
	"replicationcontrollers": {"spec", "template", "spec"},
	"deployments.apps":       {"spec", "template", "spec"},
	"replicasets.apps":       {"spec", "template", "spec"},
	"statefulsets.apps":      {"spec", "template", "spec"},
	"daemonsets.apps":        {"spec", "template", "spec"},
	"deployments.extensions": {"spec", "template", "spec"},
	"replicasets.extensions": {"spec", "template", "spec"},
	"daemonsets.extensions":  {"spec", "template", "spec"},
	jobsKey:                  {"spec", "template", "spec"},
	"cronjobs.batch":         {"spec", "jobTemplate", "spec", "template", "spec"},
}

// namespaceMapper rewrites the namespaces an object names besides its own,
// so that what was backed up in namespace A and restored into B refers to
// B: what an RBAC binding grants rights to, what a volume is bound to or
// reads its secrets from, where a webhook's service runs. Only mapped
// namespaces change; references to any other namespace are kept.
type namespaceMapper map[string]string

func (m namespaceMapper) mapped(ns string) (string, bool) {
	dst, ok := m[ns]
	return dst, ok && dst != ""
}

// apply maps the references of an object of the archive resource key.
func (m namespaceMapper) apply(key string, obj *unstructured.Unstructured) {
	if len(m) == 0 {
		return
	}
	o := obj.Object
	switch key {
	case roleBindingsKey, clusterRoleBindingsKey:
		// A binding restored as a copy must grant the copy's service
		// accounts, not go on granting the originals.
		for _, s := range slice(o, "subjects") {
			if subject, ok := s.(map[string]any); ok && subject["kind"] == "ServiceAccount" {
				m.field(subject, "namespace")
			}
		}
	case pvsKey:
		m.persistentVolume(o)
	case pvcsKey:
		m.field(nested(o, "spec", "dataSourceRef"), "namespace")
	case serviceAccountsKey:
		for _, s := range slice(o, "secrets") {
			m.field(asMap(s), "namespace")
		}
	case networkPoliciesKey:
		for _, rule := range slice(o, "spec", "ingress") {
			for _, peer := range slice(asMap(rule), "from") {
				m.namespaceSelector(nested(asMap(peer), "namespaceSelector"))
			}
		}
		for _, rule := range slice(o, "spec", "egress") {
			for _, peer := range slice(asMap(rule), "to") {
				m.namespaceSelector(nested(asMap(peer), "namespaceSelector"))
			}
		}
	case endpointsKey:
		for _, subset := range slice(o, "subsets") {
			for _, list := range []string{"addresses", "notReadyAddresses"} {
				for _, a := range slice(asMap(subset), list) {
					m.field(nested(asMap(a), "targetRef"), "namespace")
				}
			}
		}
	case endpointSlicesKey:
		for _, e := range slice(o, "endpoints") {
			m.field(nested(asMap(e), "targetRef"), "namespace")
		}
	case apiServicesKey:
		m.field(nested(o, "spec", "service"), "namespace")
	case validatingWebhooksKey, mutatingWebhooksKey:
		for _, w := range slice(o, "webhooks") {
			m.field(nested(asMap(w), "clientConfig", "service"), "namespace")
		}
	case validatingBindingsKey, mutatingBindingsKey:
		m.field(nested(o, "spec", "paramRef"), "namespace")
	case crdsKey:
		m.field(nested(o, "spec", "conversion", "webhook", "clientConfig", "service"), "namespace")
	case snapshotContentsKey:
		m.field(nested(o, "spec", "volumeSnapshotRef"), "namespace")
	}
	if path, ok := podSpecPaths[key]; ok {
		m.podSpec(nested(o, path...))
	}
}

// persistentVolume maps the claim the volume is bound to, and the secrets
// its driver reads: CSI's *SecretRef fields and the secretRef of in-tree
// sources (cephfs, rbd, iscsi, flexVolume, storageos), and azureFile's
// secretNamespace.
func (m namespaceMapper) persistentVolume(o map[string]any) {
	spec := nested(o, "spec")
	m.field(nested(spec, "claimRef"), "namespace")
	for _, v := range spec {
		source, ok := v.(map[string]any)
		if !ok {
			continue
		}
		for field, ref := range source {
			if field == "secretRef" || strings.HasSuffix(field, "SecretRef") {
				m.field(asMap(ref), "namespace")
			}
		}
	}
	m.field(nested(spec, "azureFile"), "secretNamespace")
}

// podSpec maps pod (anti-)affinity terms: the namespaces they list, and
// selectors of namespaces by their name label.
func (m namespaceMapper) podSpec(spec map[string]any) {
	for _, kind := range []string{"podAffinity", "podAntiAffinity"} {
		affinity := nested(spec, "affinity", kind)
		terms := slice(affinity, "requiredDuringSchedulingIgnoredDuringExecution")
		for _, w := range slice(affinity, "preferredDuringSchedulingIgnoredDuringExecution") {
			terms = append(terms, nested(asMap(w), "podAffinityTerm"))
		}
		for _, t := range terms {
			term := asMap(t)
			if names, ok := term["namespaces"].([]any); ok {
				for i, n := range names {
					if s, ok := n.(string); ok {
						if dst, ok := m.mapped(s); ok {
							names[i] = dst
						}
					}
				}
			}
			m.namespaceSelector(nested(term, "namespaceSelector"))
		}
	}
}

// namespaceSelector maps a label selector's values of the namespace name
// label: a policy that admitted traffic from its own namespace by name
// admits the copy's.
func (m namespaceMapper) namespaceSelector(sel map[string]any) {
	if sel == nil {
		return
	}
	m.field(nested(sel, "matchLabels"), namespaceNameLabel)
	for _, e := range slice(sel, "matchExpressions") {
		expr := asMap(e)
		if expr["key"] != namespaceNameLabel {
			continue
		}
		values, _ := expr["values"].([]any)
		for i, v := range values {
			if s, ok := v.(string); ok {
				if dst, ok := m.mapped(s); ok {
					values[i] = dst
				}
			}
		}
	}
}

// field maps obj[name] when it is a mapped namespace.
func (m namespaceMapper) field(obj map[string]any, name string) {
	if obj == nil {
		return
	}
	if ns, ok := obj[name].(string); ok {
		if dst, ok := m.mapped(ns); ok {
			obj[name] = dst
		}
	}
}

// nested returns the map at path, or nil; it never copies, so changes to
// what it returns change obj.
func nested(obj map[string]any, path ...string) map[string]any {
	cur := obj
	for _, p := range path {
		if cur == nil {
			return nil
		}
		cur, _ = cur[p].(map[string]any)
	}
	return cur
}

// slice returns the list at path, or nil, without copying.
func slice(obj map[string]any, path ...string) []any {
	if len(path) == 0 {
		return nil
	}
	parent := nested(obj, path[:len(path)-1]...)
	l, _ := parent[path[len(path)-1]].([]any)
	return l
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
