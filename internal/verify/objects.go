package verify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/archive"
)

const crdResource = "customresourcedefinitions.apiextensions.k8s.io"

// objectChecker checks that each item is a Kubernetes object that belongs
// where the archive put it: its apiVersion in the resource's API group (and
// in the version of its version directory), its kind the resource's kind, its
// namespace the directory's, its name the one its path encodes.
//
// The kind is checked in two steps, because an archive does not say which
// kind a resource has: every item of a resource must have the same kind, and
// that kind must be the one the resource's name says. For the built-in
// resources the plural of the kind is the resource name; a custom resource
// may have any plural, and its CustomResourceDefinition, when the backup
// holds it, says which kind goes with it. Only a custom resource whose CRD is
// not in the backup and whose plural is irregular is left unchecked, and the
// report names it. Memory: one kind per resource and per CRD in the backup.
type objectChecker struct {
	kinds    map[string]string // resource -> the kind of its first item
	crdKinds map[string]string // "plural.group" -> kind, from the backup's CRDs
	bad      int               // items that failed
	first    string            // the first problem, for the report's reason
	// unchecked lists "resource (kind)" pairs that could not be checked.
	unchecked []string
}

func newObjectChecker() *objectChecker {
	return &objectChecker{kinds: map[string]string{}, crdKinds: map[string]string{}}
}

// object is what every Kubernetes object has.
type object struct {
	APIVersion *string `json:"apiVersion"`
	Kind       *string `json:"kind"`
	Metadata   *struct {
		Name      *string `json:"name"`
		Namespace string  `json:"namespace"`
	} `json:"metadata"`
	// Spec is read only for CRDs.
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Plural string `json:"plural"`
			Kind   string `json:"kind"`
		} `json:"names"`
	} `json:"spec"`
}

// check returns the problem of one item, or "".
func (c *objectChecker) check(item archive.Item, data []byte) string {
	problem := c.problem(item, data)
	if problem != "" {
		c.bad++
		if c.first == "" {
			c.first = problem
		}
	}
	return problem
}

func (c *objectChecker) problem(item archive.Item, data []byte) string {
	where := item.Path()
	var obj object
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Sprintf("%s is not a Kubernetes object: %v", where, err)
	}
	switch {
	case obj.APIVersion == nil || *obj.APIVersion == "":
		return fmt.Sprintf("%s has no apiVersion: it is not a Kubernetes object", where)
	case obj.Kind == nil || *obj.Kind == "":
		return fmt.Sprintf("%s has no kind: it is not a Kubernetes object", where)
	case obj.Metadata == nil || obj.Metadata.Name == nil:
		return fmt.Sprintf("%s has no metadata.name: it is not a Kubernetes object", where)
	}
	gv, err := schema.ParseGroupVersion(*obj.APIVersion)
	if err != nil || gv.Version == "" {
		return fmt.Sprintf("%s has apiVersion %q, which is not group/version or version", where, *obj.APIVersion)
	}
	gr := schema.ParseGroupResource(item.Resource)
	kind, name, ns := *obj.Kind, *obj.Metadata.Name, obj.Metadata.Namespace
	switch {
	case gv.Group != gr.Group:
		return fmt.Sprintf("%s holds a %s of apiVersion %s, which is not of the API group %q of %s", where, kind, *obj.APIVersion, gr.Group, item.Resource)
	case item.Version != "" && gv.Version != item.Version:
		return fmt.Sprintf("%s is in the version directory %s but holds apiVersion %s", where, item.Version, *obj.APIVersion)
	case name != item.Name:
		return fmt.Sprintf("%s holds %s %q, not %q as its path says", where, kind, name, item.Name)
	case item.Namespace == "" && ns != "":
		return fmt.Sprintf("%s is stored as cluster-scoped but holds %s %s in namespace %q", where, kind, name, ns)
	case item.Namespace != "" && ns != item.Namespace:
		return fmt.Sprintf("%s is stored in namespace %q but holds %s %s of namespace %q", where, item.Namespace, kind, name, ns)
	}
	if first, seen := c.kinds[item.Resource]; !seen {
		c.kinds[item.Resource] = kind
	} else if first != kind {
		return fmt.Sprintf("%s holds a %s, but other items of %s are %s: one resource has one kind", where, kind, item.Resource, first)
	}
	if item.Resource == crdResource && obj.Spec.Names.Plural != "" {
		c.crdKinds[schema.GroupResource{Group: obj.Spec.Group, Resource: obj.Spec.Names.Plural}.String()] = obj.Spec.Names.Kind
	}
	return ""
}

// finish checks each resource's kind against its name, once the backup's
// CRDs are known, and returns the problems.
func (c *objectChecker) finish() []string {
	var problems []string
	for _, res := range slices.Sorted(maps.Keys(c.kinds)) {
		kind := c.kinds[res]
		gr := schema.ParseGroupResource(res)
		plural, _ := meta.UnsafeGuessKindToResource(gr.WithVersion("v").GroupVersion().WithKind(kind))
		if plural.Resource == gr.Resource {
			continue
		}
		crdKind, known := c.crdKinds[res]
		switch {
		case known && crdKind == kind:
		case known:
			problems = append(problems, fmt.Sprintf("the items of %s are %s, but the backup's CustomResourceDefinition of %s says its kind is %s", res, kind, res, crdKind))
		case isBuiltinGroup(gr.Group):
			problems = append(problems, fmt.Sprintf("the items of %s are %s, whose resource is %s", res, kind, plural.GroupResource()))
		default:
			c.unchecked = append(c.unchecked, fmt.Sprintf("%s (%s)", res, kind))
		}
	}
	for range problems {
		c.bad++
	}
	if c.first == "" && len(problems) > 0 {
		c.first = problems[0]
	}
	return problems
}

// isBuiltinGroup reports whether a group can only be Kubernetes' own (the
// core group and the dotless ones: a CRD's group must contain a dot), whose
// resources all have the regular plural of their kind.
func isBuiltinGroup(group string) bool {
	return !strings.Contains(group, ".")
}
