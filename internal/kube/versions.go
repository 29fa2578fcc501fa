package kube

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// servedResource is what discovery says of one group resource across the
// versions of its group.
type servedResource struct {
	preferredVersion string
	preferred        metav1.APIResource
	versions         []string // where it can be listed and created, in the group's order
}

// servedVersions picks, for every group resource, the version
// discovery.ServerPreferredResources would (the group's preferred version
// when it serves the resource, else the first of the group's versions that
// does), and lists every version that serves it. One discovery pass gives
// both.
func servedVersions(groups []*metav1.APIGroup, lists []*metav1.APIResourceList) map[schema.GroupResource]*servedResource {
	byGV := map[schema.GroupVersion]*metav1.APIResourceList{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		if gv, err := schema.ParseGroupVersion(l.GroupVersion); err == nil {
			byGV[gv] = l
		}
	}
	out := map[schema.GroupResource]*servedResource{}
	for _, g := range groups {
		for _, v := range g.Versions {
			list := byGV[schema.GroupVersion{Group: g.Name, Version: v.Version}]
			if list == nil {
				continue
			}
			for _, ar := range list.APIResources {
				if strings.Contains(ar.Name, "/") {
					continue // subresources
				}
				gr := schema.GroupResource{Group: g.Name, Resource: ar.Name}
				s := out[gr]
				if s == nil {
					s = &servedResource{preferredVersion: v.Version, preferred: ar}
					out[gr] = s
				} else if v.Version == g.PreferredVersion.Version {
					s.preferredVersion, s.preferred = v.Version, ar
				}
				if hasVerbs(ar, "list", "create") {
					s.versions = append(s.versions, v.Version)
				}
			}
		}
	}
	for _, s := range out {
		// The preferred version first, then the group's order.
		for i, v := range s.versions {
			if v == s.preferredVersion && i > 0 {
				copy(s.versions[1:i+1], s.versions[:i])
				s.versions[0] = v
			}
		}
	}
	return out
}
