// Package flags parses the CLI's structured flag values (label selectors,
// key=value maps) into API fields, with errors that show a valid example.
package flags

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Selector parses a -l/--selector value; "" means no selector.
func Selector(s string) (*metav1.LabelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	sel, err := metav1.ParseToLabelSelector(s)
	if err != nil {
		return nil, fmt.Errorf("invalid --selector %q: %v (examples: app=nginx, 'tier in (web,db)', app!=test)", s, err)
	}
	return sel, nil
}

// Map parses "k1=v1,k2=v2" (what) into a map.
func Map(what string, pairs []string, sep string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, sep)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("invalid %s %q: write KEY%sVALUE pairs separated by commas, e.g. a%sb,c%sd", what, p, sep, sep, sep)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("invalid %s: %q is given twice", what, k)
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// OptionalBool is a tri-state bool flag: unset, true or false.
type OptionalBool struct{ Value *bool }

// String implements pflag.Value.
func (b *OptionalBool) String() string {
	if b.Value == nil {
		return "<unset>"
	}
	return fmt.Sprint(*b.Value)
}

// Set implements pflag.Value.
func (b *OptionalBool) Set(s string) error {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		v := true
		b.Value = &v
	case "false", "0", "no":
		v := false
		b.Value = &v
	default:
		return fmt.Errorf("%q is not a boolean: use true or false", s)
	}
	return nil
}

// Type implements pflag.Value.
func (b *OptionalBool) Type() string { return "bool" }

// IsBoolFlag lets "--flag" alone mean true.
func (b *OptionalBool) IsBoolFlag() bool { return true }
