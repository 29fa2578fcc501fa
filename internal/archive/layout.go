package archive

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FormatVersion is the version of the archive layout this package writes and
// the only one it reads. It is stored in metadata/version and in the index.
const FormatVersion = 1

// Names of the entries and path components of the layout.
const (
	versionEntry  = "metadata/version"
	indexEntry    = "metadata/index.json"
	resourcesDir  = "resources"
	namespacesDir = "namespaces"
	clusterDir    = "cluster"
	itemExtension = ".json"
)

// maxNameLen bounds an object name. Most Kubernetes names are DNS subdomains
// (at most 253 bytes), but some resources (RBAC roles, for one) accept any path
// segment, so the bound is generous; it exists only so that a path, and hence
// the index, has a known maximum size.
const maxNameLen = 1024

// Item identifies one Kubernetes object in an archive.
type Item struct {
	// Resource is the plural resource name, with ".<group>" for every group
	// but the core one: "configmaps", "deployments.apps".
	Resource string
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	Name      string
}

// Path is the item's entry name in the archive. It does not validate the item;
// Writer.Add does.
func (i Item) Path() string {
	if i.Namespace == "" {
		return resourcesDir + "/" + i.Resource + "/" + clusterDir + "/" + i.Name + itemExtension
	}
	return resourcesDir + "/" + i.Resource + "/" + namespacesDir + "/" + i.Namespace + "/" + i.Name + itemExtension
}

// String is the item as people read it in logs and errors.
func (i Item) String() string {
	if i.Namespace == "" {
		return i.Resource + " " + i.Name
	}
	return i.Resource + " " + i.Namespace + "/" + i.Name
}

// ParsePath is the inverse of Item.Path. It accepts only the canonical layout
// (no empty, "." or ".." components, no backslashes, no control characters) so
// that a name it accepts is always safe to use as a relative file path.
func ParsePath(p string) (Item, error) {
	if problem := unsafePathProblem(p); problem != "" {
		return Item{}, fmt.Errorf("archive path %q: %s", p, problem)
	}
	parts := strings.Split(p, "/")
	var it Item
	switch {
	case len(parts) == 4 && parts[0] == resourcesDir && parts[2] == clusterDir:
		it = Item{Resource: parts[1], Name: parts[3]}
	case len(parts) == 5 && parts[0] == resourcesDir && parts[2] == namespacesDir:
		it = Item{Resource: parts[1], Namespace: parts[3], Name: parts[4]}
	default:
		return Item{}, fmt.Errorf("archive path %q is not of the form resources/<resource>/namespaces/<namespace>/<name>.json or resources/<resource>/cluster/<name>.json", p)
	}
	base, ok := strings.CutSuffix(it.Name, itemExtension)
	if !ok {
		return Item{}, fmt.Errorf("archive path %q: an item's file name must end in %s", p, itemExtension)
	}
	it.Name = base
	if err := it.validate(); err != nil {
		return Item{}, fmt.Errorf("archive path %q: %w", p, err)
	}
	return it, nil
}

// unsafePathProblem names the first property of p that would make it unsafe
// to use as a relative file path, or returns "".
func unsafePathProblem(p string) string {
	switch {
	case p == "":
		return "empty name"
	case strings.ContainsRune(p, 0):
		return "name contains a NUL byte"
	case strings.ContainsRune(p, '\\'):
		return "name contains a backslash"
	case strings.HasPrefix(p, "/"):
		return "absolute path"
	case !utf8.ValidString(p):
		return "name is not valid UTF-8"
	}
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "..":
			return `path contains a ".." component`
		case ".":
			return `path contains a "." component`
		case "":
			return "path contains an empty component (//, or a trailing /)"
		}
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return fmt.Sprintf("name contains the control character %U", r)
		}
	}
	return ""
}

func (i Item) validate() error {
	if !isDNSSubdomain(i.Resource) {
		return fmt.Errorf("resource %q is not a lowercase resource name such as configmaps or deployments.apps", i.Resource)
	}
	if i.Namespace != "" && !isDNSLabel(i.Namespace) {
		return fmt.Errorf("namespace %q is not a valid Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", i.Namespace)
	}
	if problem := nameProblem(i.Name); problem != "" {
		return fmt.Errorf("object name %q: %s", i.Name, problem)
	}
	return nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty name"
	case name == "." || name == "..":
		return "name is a relative directory reference"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name is longer than %d bytes", maxNameLen)
	case strings.ContainsRune(name, '/'):
		return "name contains a slash"
	}
	if problem := unsafePathProblem(name); problem != "" {
		return problem
	}
	return ""
}

// isDNSLabel reports whether s is an RFC 1123 label, as Kubernetes requires of
// namespace names.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// isDNSSubdomain reports whether s is an RFC 1123 subdomain, which every
// "<plural>" and "<plural>.<group>" resource name is.
func isDNSSubdomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !isDNSLabel(label) {
			return false
		}
	}
	return true
}
