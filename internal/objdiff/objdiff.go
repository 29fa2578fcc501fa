// Package objdiff compares two Kubernetes objects field by field, as decoded
// JSON (unstructured), and says where they differ. It knows nothing of what
// the fields mean: callers normalize both objects first (restore.Normalize
// removes what the cluster manages), so that what is left to differ is what
// a person changed.
package objdiff

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Change is one field that differs. Path is dotted ("spec.replicas",
// "data.key"); an element of a list of named objects is written by its name
// ("spec.template.spec.containers[name=web].image"), any other by its index
// ("spec.ports[0].port"); a key that is not a plain word is quoted
// (`metadata.labels["app.kubernetes.io/name"]`). A field on one side only has
// a nil Before or After (and Missing says which).
type Change struct {
	Path   string `json:"path"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
	// Missing is "before" when the field is new, "after" when it is gone,
	// "" when both sides have it.
	Missing string `json:"missing,omitempty"`
}

// String renders the change on one line, values as compact JSON cut to a
// readable length.
func (c Change) String() string {
	switch c.Missing {
	case "before":
		return fmt.Sprintf("%s: added %s", c.Path, short(c.After))
	case "after":
		return fmt.Sprintf("%s: removed (was %s)", c.Path, short(c.Before))
	}
	return fmt.Sprintf("%s: %s -> %s", c.Path, short(c.Before), short(c.After))
}

const maxValueLen = 120

func short(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(data)
	if len(s) > maxValueLen {
		return s[:maxValueLen] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// Compare returns the fields where a and b differ, sorted by path. Equal
// objects give none.
func Compare(a, b map[string]any) []Change {
	var out []Change
	compare("", a, b, &out)
	slices.SortStableFunc(out, func(x, y Change) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// Paths are the paths of changes, for a one-line summary.
func Paths(changes []Change) []string {
	paths := make([]string, len(changes))
	for i, c := range changes {
		paths[i] = c.Path
	}
	return paths
}

func compare(path string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			compareMaps(path, av, bv, out)
			return
		}
	case []any:
		if bv, ok := b.([]any); ok {
			compareLists(path, av, bv, out)
			return
		}
	}
	if !equal(a, b) {
		*out = append(*out, Change{Path: pathOrRoot(path), Before: a, After: b})
	}
}

func compareMaps(path string, a, b map[string]any, out *[]Change) {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		p := join(path, k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			*out = append(*out, Change{Path: p, After: bv, Missing: "before"})
		case !inB:
			*out = append(*out, Change{Path: p, Before: av, Missing: "after"})
		default:
			compare(p, av, bv, out)
		}
	}
}

// compareLists pairs the elements of two lists of objects by their name
// when every element has a distinct one (containers, ports, volumes, env),
// so that inserting an element reports that element rather than every one
// after it; other lists are compared index by index.
func compareLists(path string, a, b []any, out *[]Change) {
	an, aok := namesOf(a)
	bn, bok := namesOf(b)
	if aok && bok {
		for i, name := range an {
			p := fmt.Sprintf("%s[name=%s]", path, name)
			if j := slices.Index(bn, name); j >= 0 {
				compare(p, a[i], b[j], out)
			} else {
				*out = append(*out, Change{Path: p, Before: a[i], Missing: "after"})
			}
		}
		for j, name := range bn {
			if !slices.Contains(an, name) {
				*out = append(*out, Change{Path: fmt.Sprintf("%s[name=%s]", path, name), After: b[j], Missing: "before"})
			}
		}
		return
	}
	for i := range max(len(a), len(b)) {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case i >= len(a):
			*out = append(*out, Change{Path: p, After: b[i], Missing: "before"})
		case i >= len(b):
			*out = append(*out, Change{Path: p, Before: a[i], Missing: "after"})
		default:
			compare(p, a[i], b[i], out)
		}
	}
}

// namesOf returns the "name" of every element when all are objects with
// distinct string names.
func namesOf(list []any) ([]string, bool) {
	if len(list) == 0 {
		return nil, true
	}
	names := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		n, ok := m["name"].(string)
		if !ok || slices.Contains(names, n) {
			return nil, false
		}
		names = append(names, n)
	}
	return names, true
}

// equal compares two leaves. JSON numbers decode as int64 or float64
// depending on how they were written: 1 and 1.0 are the same number.
func equal(a, b any) bool {
	if af, ok := number(a); ok {
		bf, ok := number(b)
		return ok && af == bf
	}
	switch a.(type) {
	case map[string]any, []any:
		// Only reached with b of another type (compare pairs equal kinds).
		return false
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	return a == b
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func join(path, key string) string {
	if isWord(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return fmt.Sprintf("%s[%q]", path, key)
}

func pathOrRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// isWord reports whether a key can be written after a dot unquoted.
func isWord(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
