package backup

import (
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/kube"
)

// coreFirst is the order of the core group's leading resources: a pod is
// backed up before its claims and volumes, so the claims and volumes it pulls
// in are taken at (nearly) the same moment as the pod.
var coreFirst = map[string]int{"pods": 0, "persistentvolumeclaims": 1, "persistentvolumes": 2}

// cohabitants are resources served by two groups that store the same objects;
// the first is skipped when the second is served, so items are not doubled.
var cohabitants = map[schema.GroupResource]schema.GroupResource{
	{Group: "extensions", Resource: "deployments"}:     {Group: "apps", Resource: "deployments"},
	{Group: "extensions", Resource: "replicasets"}:     {Group: "apps", Resource: "replicasets"},
	{Group: "extensions", Resource: "daemonsets"}:      {Group: "apps", Resource: "daemonsets"},
	{Group: "extensions", Resource: "networkpolicies"}: {Group: "networking.k8s.io", Resource: "networkpolicies"},
	{Group: "extensions", Resource: "ingresses"}:       {Group: "networking.k8s.io", Resource: "ingresses"},
	{Group: "events.k8s.io", Resource: "events"}:       {Group: "", Resource: "events"},
}

// orderResources returns the resources in backup order: the core group first
// (pods, PVCs, PVs, then the rest), then the other groups alphabetically,
// without cohabiting duplicates.
func orderResources(all []kube.Resource) []kube.Resource {
	served := map[schema.GroupResource]bool{}
	for _, r := range all {
		served[r.GroupResource()] = true
	}
	var out []kube.Resource
	for _, r := range all {
		if other, ok := cohabitants[r.GroupResource()]; ok && served[other] {
			continue
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].GVR, out[j].GVR
		if (a.Group == "") != (b.Group == "") {
			return a.Group == ""
		}
		if a.Group == "" {
			ra, oka := coreFirst[a.Resource]
			rb, okb := coreFirst[b.Resource]
			switch {
			case oka && okb:
				return ra < rb
			case oka != okb:
				return oka
			}
		}
		return out[i].GroupResource().String() < out[j].GroupResource().String()
	})
	return out
}
