// Package flags parses the CLI's structured flag values (label selectors,
// key=value maps) into API fields, with errors that show a valid example.
package flags

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Selector parses a -l/--selector value, in kubectl's syntax, into the API's
// LabelSelector; "" means no selector. `k!=v` becomes `k notin (v)`, which
// selects the same objects. Whatever it returns selects exactly what kubectl
// would select with s (FuzzSelector checks it); a selector the API cannot
// hold the same way is refused.
func Selector(s string) (*metav1.LabelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	bad := func(err error) error {
		return fmt.Errorf("invalid --selector %q: %v (examples: app=nginx, 'tier in (web,db)', app!=test)", s, err)
	}
	parsed, err := labels.Parse(s)
	if err != nil {
		return nil, bad(err)
	}
	reqs, _ := parsed.Requirements()
	out := &metav1.LabelSelector{}
	for _, r := range reqs {
		values := r.Values().List()
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals:
			if out.MatchLabels == nil {
				out.MatchLabels = map[string]string{}
			}
			// matchLabels holds one value per key: a second one would
			// silently replace the first, turning a selector that
			// matches nothing into one that matches.
			if prev, dup := out.MatchLabels[r.Key()]; dup && prev != values[0] {
				return nil, bad(fmt.Errorf("it requires %s=%s and %s=%s at once, which no object has; to select either value write '%s in (%s,%s)'",
					r.Key(), prev, r.Key(), values[0], r.Key(), prev, values[0]))
			}
			out.MatchLabels[r.Key()] = values[0]
			continue
		case selection.NotEquals, selection.NotIn:
			op = metav1.LabelSelectorOpNotIn
		case selection.In:
			op = metav1.LabelSelectorOpIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default:
			return nil, bad(fmt.Errorf("operator %q cannot be stored in a backup or restore", r.Operator()))
		}
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key(), Operator: op, Values: values})
	}
	return out, nil
}

// Labels parses --labels "k1=v1,k2=v2": Map, then every key and value
// checked as the API server will, so a bad one is refused before anything
// is sent, with the rule it breaks.
func Labels(pairs []string) (map[string]string, error) {
	m, err := Map("--labels", pairs, "=")
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("invalid --labels key %q: %s (e.g. app, or example.com/team)", k, errs[0])
		}
		if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
			return nil, fmt.Errorf("invalid --labels value %q of %s: %s", m[k], k, errs[0])
		}
	}
	return m, nil
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

// ListOptions scopes a List to namespace and, when selector is set, to the
// objects whose labels match it.
func ListOptions(namespace, selector string) ([]client.ListOption, error) {
	opts := []client.ListOption{client.InNamespace(namespace)}
	sel, err := Selector(selector)
	if err != nil || sel == nil {
		return opts, err
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	return append(opts, client.MatchingLabelsSelector{Selector: ls}), nil
}

// Duration is a duration flag whose errors say how to write one, and that
// refuses negative values (a negative TTL or timeout is always a typo).
type Duration struct{ D *time.Duration }

// ParseDuration parses a duration flag's value: Go's syntax (720h, 1h30m,
// 90s), at least 0.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit (h, m, s), such as 720h, 1h30m or 90s; days are written in hours (30 days = 720h)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative: give a positive duration such as 720h", s)
	}
	return d, nil
}

// String implements pflag.Value.
func (d Duration) String() string {
	if d.D == nil {
		return "0s"
	}
	return d.D.String()
}

// Set implements pflag.Value.
func (d Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d.D = v
	return nil
}

// Type implements pflag.Value.
func (d Duration) Type() string { return "duration" }
