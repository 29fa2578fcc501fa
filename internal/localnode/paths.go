package localnode

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// pathMap is how a container sees its volumes without a mount namespace or a
// chroot: every absolute path in its command, arguments, environment and
// working directory, and in the commands exec'd into it, that starts with a
// volumeMount's mountPath is rewritten to the directory that backs the
// volume. So `sh -c 'echo x > /data/f'` with a volume at /data writes into
// the volume's directory. Paths the process computes at run time (`cd /;
// cat data/f`) are not rewritten, and paths outside every mountPath are the
// host's own.
//
// Mounts and namespaces would be exact, but need root or unprivileged user
// namespaces, which a developer's machine or CI runner may not allow.
type pathMap struct {
	// sorted by len(from), longest first, so /data/sub wins over /data
	mappings []mapping
}

type mapping struct{ from, to string }

// newPathMap builds a map from mountPath to host path; it rejects a mount
// at / (every path would be the volume's) and a mountPath given twice.
func newPathMap(mounts map[string]string) (pathMap, error) {
	var m pathMap
	for from, to := range mounts {
		clean := path.Clean(from)
		if !path.IsAbs(clean) {
			return pathMap{}, fmt.Errorf("mountPath %q is not absolute", from)
		}
		if clean == "/" {
			return pathMap{}, fmt.Errorf("mountPath %q: the local node cannot mount a volume at /, since it maps mount paths onto host paths; mount it on a directory such as /data", from)
		}
		for _, e := range m.mappings {
			if e.from == clean {
				return pathMap{}, fmt.Errorf("mountPath %q is used twice", from)
			}
		}
		m.mappings = append(m.mappings, mapping{from: clean, to: to})
	}
	sort.Slice(m.mappings, func(i, j int) bool {
		if len(m.mappings[i].from) != len(m.mappings[j].from) {
			return len(m.mappings[i].from) > len(m.mappings[j].from)
		}
		return m.mappings[i].from < m.mappings[j].from
	})
	return m, nil
}

// rewrite replaces every mountPath in s that stands as a path of its own: at
// the start of s or after a character that cannot be part of a path (space,
// quote, =, :, >, ...), and followed by the end of s, a / or such a
// character. "/data/f", "x>/data" and "--dir=/data" change; "/database" and
// "foo/data" do not.
func (m pathMap) rewrite(s string) string {
	if len(m.mappings) == 0 || !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		if s[i] == '/' && (i == 0 || separates(s[i-1])) {
			if e, ok := m.matchAt(s, i); ok {
				b.WriteString(e.to)
				i += len(e.from)
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func (m pathMap) matchAt(s string, i int) (mapping, bool) {
	for _, e := range m.mappings {
		if !strings.HasPrefix(s[i:], e.from) {
			continue
		}
		end := i + len(e.from)
		if end == len(s) || s[end] == '/' || separates(s[end]) {
			return e, true
		}
	}
	return mapping{}, false
}

// rewriteAll rewrites each string of a command line.
func (m pathMap) rewriteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = m.rewrite(a)
	}
	return out
}

// separates reports whether c cannot be part of a path in a command line, so
// a path may begin or end next to it.
func separates(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '=', ':', ';', ',', '|', '&', '<', '>', '(', ')', '{', '}', '[', ']', '$':
		return true
	}
	return false
}

// expand resolves $(VAR) references against vars as the kubelet does for
// env values, command and args: $$ is a literal $, and a reference to an
// unknown variable is left as written.
func expand(s string, vars func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
