package archive

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FormatVersion is the version of the archive layout this package writes: it
// is stored in metadata/version and in the index. The reader also reads the
// layouts of Ark's lineage (see Format).
const FormatVersion = 1

// Names of the entries and path components of the layout.
const (
	versionEntry    = "metadata/version"
	indexEntry      = "metadata/index.json"
	metadataDir     = "metadata"
	resourcesDir    = "resources"
	namespacesDir   = "namespaces"
	clusterDir      = "cluster"
	itemExtension   = ".json"
	preferredSuffix = "-preferredversion"
)

// Item identifies one Kubernetes object in an archive.
type Item struct {
	// Resource is the plural resource name, with ".<group>" for every group
	// but the core one: "configmaps", "deployments.apps".
	Resource string
	// Version is the API version directory the item is stored in ("v1",
	// "v2beta1"), or "" for the unversioned copy. A version directory holds
	// the object as the source cluster served it in that version.
	Version string
	// Preferred marks the version directory of the source cluster's
	// preferred version ("<version>-preferredversion"); it needs Version.
	Preferred bool
	// Namespace is empty for cluster-scoped objects.
	Namespace string
	// Name is the object's name exactly as in its metadata; paths hold it
	// encoded (see names.go).
	Name string
}

// Path is the item's entry name in the archive. It does not validate the item;
// Writer.Add does.
func (i Item) Path() string {
	var b strings.Builder
	b.WriteString(resourcesDir + "/")
	b.WriteString(i.Resource)
	b.WriteByte('/')
	if i.Version != "" {
		b.WriteString(i.Version)
		if i.Preferred {
			b.WriteString(preferredSuffix)
		}
		b.WriteByte('/')
	}
	if i.Namespace == "" {
		b.WriteString(clusterDir + "/")
	} else {
		b.WriteString(namespacesDir + "/")
		b.WriteString(i.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(fileName(i.Name))
	return b.String()
}

// String is the item as people read it in logs and errors. A name that could
// make the message ambiguous (spaces, escapes, control characters) is quoted,
// a very long one cut.
func (i Item) String() string {
	res := i.Resource
	if i.Version != "" {
		res += " (" + i.Version + ")"
	}
	name := i.Name
	if needsEscape(name) || strings.ContainsAny(name, " \"") || len(name) > 253 {
		name = quoteName(name)
	}
	if i.Namespace == "" {
		return res + " " + name
	}
	return res + " " + i.Namespace + "/" + name
}

// quoteName quotes a name for a message, cutting a very long one.
func quoteName(name string) string {
	if len(name) > 253 {
		return strconv.Quote(name[:200]) + fmt.Sprintf("... (%d bytes)", len(name))
	}
	return strconv.Quote(name)
}

// entryPath is an item's entry name, parsed. The name of a long-form entry is
// known only once its object is read (storedName.resolve).
type entryPath struct {
	item Item
	name storedName
}

// parsePath parses an item's entry name. It accepts only the canonical layout
// (no empty, "." or ".." components, no backslashes, no control characters,
// each name in its one encoding) so that a path it accepts is always safe to
// use as a relative file path and stands for exactly one item.
func parsePath(p string) (entryPath, error) {
	if problem := unsafePathProblem(p); problem != "" {
		return entryPath{}, fmt.Errorf("archive path %q: %s", p, problem)
	}
	parts := strings.Split(p, "/")
	if len(parts) < 4 || parts[0] != resourcesDir {
		return entryPath{}, layoutError(p)
	}
	it := Item{Resource: parts[1]}
	rest := parts[2:]
	if rest[0] != clusterDir && rest[0] != namespacesDir {
		it.Version, it.Preferred = strings.CutSuffix(rest[0], preferredSuffix)
		rest = rest[1:]
	}
	var file string
	switch {
	case len(rest) == 2 && rest[0] == clusterDir:
		file = rest[1]
	case len(rest) == 3 && rest[0] == namespacesDir:
		it.Namespace, file = rest[1], rest[2]
	default:
		return entryPath{}, layoutError(p)
	}
	if err := it.validateDirs(); err != nil {
		return entryPath{}, fmt.Errorf("archive path %q: %w", p, err)
	}
	name, err := parseFileName(file)
	if err != nil {
		return entryPath{}, fmt.Errorf("archive path %q: %w", p, err)
	}
	it.Name = name.Name
	return entryPath{item: it, name: name}, nil
}

func layoutError(p string) error {
	return fmt.Errorf("archive path %q is not of the form resources/<resource>[/<version>]/namespaces/<namespace>/<name>.json or resources/<resource>[/<version>]/cluster/<name>.json", p)
}

// isLayoutDir reports whether p (without its trailing slash) is a directory
// of the layout: archives repacked with tar(1) have them as entries.
func isLayoutDir(p string) bool {
	if p == metadataDir || p == resourcesDir {
		return true
	}
	parts := strings.Split(p, "/")
	if len(parts) < 2 || parts[0] != resourcesDir || !isDNSSubdomain(parts[1]) {
		return false
	}
	rest := parts[2:]
	if len(rest) > 0 && rest[0] != clusterDir && rest[0] != namespacesDir {
		v, _ := strings.CutSuffix(rest[0], preferredSuffix)
		if !isVersionName(v) {
			return false
		}
		rest = rest[1:]
	}
	switch len(rest) {
	case 0:
		return true
	case 1:
		return rest[0] == clusterDir || rest[0] == namespacesDir
	case 2:
		return rest[0] == namespacesDir && isDNSLabel(rest[1])
	}
	return false
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

// validate checks what Writer.Add needs of an item.
func (i Item) validate() error {
	if err := i.validateDirs(); err != nil {
		return err
	}
	if problem := nameProblem(i.Name); problem != "" {
		return fmt.Errorf("object name %s: %s", quoteName(i.Name), problem)
	}
	return nil
}

// validateDirs checks the parts of an item that are directories.
func (i Item) validateDirs() error {
	if !isDNSSubdomain(i.Resource) {
		return fmt.Errorf("resource %q is not a lowercase resource name such as configmaps or deployments.apps", i.Resource)
	}
	if i.Version != "" && !isVersionName(i.Version) {
		return fmt.Errorf("API version %q is not a version name such as v1 or v2beta1 (a DNS label other than %q and %q, not ending in %q)", i.Version, clusterDir, namespacesDir, preferredSuffix)
	}
	if i.Version == "" && i.Preferred {
		return fmt.Errorf("an item of the preferred-version directory needs its Version")
	}
	if i.Namespace != "" && !isDNSLabel(i.Namespace) {
		return fmt.Errorf("namespace %q is not a valid Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", i.Namespace)
	}
	return nil
}

// nameProblem says why a name cannot be stored. Every name the API server
// accepts can: only the empty name and absurd lengths are refused.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > maxNameLen:
		return fmt.Sprintf("name is %d bytes, longer than the %d an archive stores", len(name), maxNameLen)
	}
	return ""
}

// isVersionName reports whether v can be a version directory: an API version
// is a DNS label, and the directories of the unversioned layout and the
// preferred-version suffix must stay unambiguous.
func isVersionName(v string) bool {
	return isDNSLabel(v) && v != clusterDir && v != namespacesDir && !strings.HasSuffix(v, preferredSuffix)
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
