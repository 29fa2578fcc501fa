// Package filter implements the include/exclude lists of backups and
// restores: namespaces by name, resources by what users type ("deploy",
// "deployments.apps"), resolved against the cluster's discovery.
package filter

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/heptio/ark/internal/kube"
)

// IncludesExcludes answers "is this name in scope?". An empty include list or
// "*" includes everything; an exclusion always wins.
type IncludesExcludes struct {
	includes map[string]bool
	excludes map[string]bool
	all      bool
}

// New builds a filter from the lists as given.
func New(includes, excludes []string) *IncludesExcludes {
	ie := &IncludesExcludes{includes: map[string]bool{}, excludes: map[string]bool{}}
	for _, s := range includes {
		if s == "*" {
			ie.all = true
		}
		ie.includes[s] = true
	}
	if len(includes) == 0 {
		ie.all = true
	}
	for _, s := range excludes {
		ie.excludes[s] = true
	}
	return ie
}

// ShouldInclude reports whether name is in scope.
func (ie *IncludesExcludes) ShouldInclude(name string) bool {
	if ie.excludes[name] {
		return false
	}
	return ie.all || ie.includes[name]
}

// Excludes reports whether name is excluded by name (not merely left out
// of an explicit include list).
func (ie *IncludesExcludes) Excludes(name string) bool { return ie.excludes[name] }

// IncludesAll reports whether everything is included and nothing excluded.
func (ie *IncludesExcludes) IncludesAll() bool { return ie.all && len(ie.excludes) == 0 }

// Explicit returns the included names when the list is not "everything".
func (ie *IncludesExcludes) Explicit() []string {
	if ie.all {
		return nil
	}
	var out []string
	for s := range ie.includes {
		if !ie.excludes[s] {
			out = append(out, s)
		}
	}
	return out
}

// ValidateLists returns one message per problem of an include/exclude pair:
// a name both included and excluded, or "*" among the exclusions.
func ValidateLists(what string, includes, excludes []string) []string {
	var errs []string
	inc := map[string]bool{}
	for _, s := range includes {
		inc[s] = true
	}
	for _, s := range excludes {
		if s == "*" {
			errs = append(errs, fmt.Sprintf("excluded %s cannot be \"*\": to back up nothing, delete the request instead", what))
		} else if inc[s] {
			errs = append(errs, fmt.Sprintf("%s %q is both included and excluded: remove it from one of the two lists", what, s))
		}
	}
	if inc["*"] && len(includes) > 1 {
		errs = append(errs, fmt.Sprintf("included %s lists \"*\" together with names: use either \"*\" or a list of names", what))
	}
	return errs
}

// Resources resolves resource include/exclude lists into a filter over
// group-resource strings ("configmaps", "deployments.apps"), the names the
// archive uses. A name is whatever users type ("deploy", "Deployment",
// "deployments.apps"), resolved through the cluster's discovery. A name the
// cluster does not serve may still name one of known, the resources of a
// backup ("widgets" or "widgets.example.com" for a custom resource whose CRD
// only the backup has). Each name that matches neither is returned; the
// caller decides whether that is an error (a backup, a restore's validation)
// or a warning (a restore under way). The lists themselves are checked by
// ValidateLists.
func Resources(d *kube.Discovery, known []string, includes, excludes []string) (*IncludesExcludes, []Unmatched) {
	var unmatched []Unmatched
	resolve := func(names []string, excluded bool) []string {
		var out []string
		for _, n := range names {
			if n == "*" {
				out = append(out, n)
				continue
			}
			r, err := d.Resolve(n)
			if err == nil {
				out = append(out, r.GroupResource().String())
				continue
			}
			matched := false
			for _, k := range known {
				if LiteralResourceMatch(n, k) {
					out = append(out, k)
					matched = true
				}
			}
			if !matched {
				unmatched = append(unmatched, Unmatched{Name: n, Excluded: excluded, Err: err})
			}
		}
		return out
	}
	ie := New(resolve(includes, false), resolve(excludes, true))
	return ie, unmatched
}

// Unmatched is a resource name of an include or exclude list that names
// nothing: Err is what discovery said of it.
type Unmatched struct {
	Name     string
	Excluded bool
	Err      error
}

// List is "included" or "excluded", for messages.
func (u Unmatched) List() string {
	if u.Excluded {
		return "excluded"
	}
	return "included"
}

// LiteralResourceMatch reports whether a typed resource name names key, a
// "resource[.group]" string, without asking the cluster: the full name, or
// the plural resource alone.
func LiteralResourceMatch(name, key string) bool {
	name = strings.ToLower(strings.TrimSpace(name))
	return name == key || name == schema.ParseGroupResource(key).Resource
}

// Summary renders a filter's lists for logs and describe output.
func Summary(includes, excludes []string) string {
	inc := "*"
	if len(includes) > 0 {
		inc = strings.Join(includes, ", ")
	}
	exc := "<none>"
	if len(excludes) > 0 {
		exc = strings.Join(excludes, ", ")
	}
	return fmt.Sprintf("included: %s; excluded: %s", inc, exc)
}
