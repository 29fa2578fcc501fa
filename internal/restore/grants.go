package restore

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// maxSubjectsNamed bounds the subjects a warning lists.
const maxSubjectsNamed = 10

// warnOfClusterWideGrant reports every ClusterRoleBinding and ClusterRole
// the restore created, so that an operator sees the cluster-wide rights a
// backup brought in (a backup of another cluster, or one a namespace admin
// could write into, may hold bindings nobody here meant to give).
func (r *restorer) warnOfClusterWideGrant(key string, obj *unstructured.Unstructured) {
	switch key {
	case clusterRoleBindingsKey:
		role, _, _ := unstructured.NestedString(obj.Object, "roleRef", "name")
		kind, _, _ := unstructured.NestedString(obj.Object, "roleRef", "kind")
		r.results.warning("", "created ClusterRoleBinding %s: it grants %s %s in every namespace to %s; check that this cluster should give them these rights",
			obj.GetName(), kind, role, describeSubjects(obj))
	case clusterRolesKey:
		r.results.warning("", "created ClusterRole %s: any RoleBinding or ClusterRoleBinding can now grant its rules; check that this cluster should have it",
			obj.GetName())
	}
}

// describeSubjects names a binding's subjects: "ServiceAccount team-b/app,
// User alice, Group devs".
func describeSubjects(obj *unstructured.Unstructured) string {
	subjects := slice(obj.Object, "subjects")
	if len(subjects) == 0 {
		return "no subject"
	}
	var names []string
	for i, s := range subjects {
		if i == maxSubjectsNamed {
			names = append(names, fmt.Sprintf("and %d more", len(subjects)-i))
			break
		}
		subject := asMap(s)
		kind, _ := subject["kind"].(string)
		name, _ := subject["name"].(string)
		if ns, _ := subject["namespace"].(string); ns != "" {
			name = ns + "/" + name
		}
		names = append(names, kind+" "+name)
	}
	return strings.Join(names, ", ")
}
