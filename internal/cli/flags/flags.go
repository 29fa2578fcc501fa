// Package flags parses the CLI's structured flag values (label selectors,
// key=value maps) into API fields, with errors that show a valid example.
package flags

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Selector parses a -l/--selector value, in kubectl's syntax, into the API's
// LabelSelector; "" means no selector. `k!=v` becomes `k notin (v)`, which
// selects the same objects.
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

// OrSelectors parses an --or-selector value: selectors in kubectl's syntax
// separated by " or " ("app=web or tier in (db,cache)"); "" means none.
func OrSelectors(s string) ([]*metav1.LabelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []*metav1.LabelSelector
	for _, term := range strings.Split(s, " or ") {
		if strings.TrimSpace(term) == "" {
			return nil, fmt.Errorf("invalid --or-selector %q: a term is empty; separate selectors with \" or \", e.g. \"app=web or tier=db\"", s)
		}
		sel, err := Selector(term)
		if err != nil {
			return nil, fmt.Errorf("invalid --or-selector term %q: %w", strings.TrimSpace(term), err)
		}
		out = append(out, sel)
	}
	return out, nil
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
