// Package lookup finds the objects a get, describe or delete command names:
// each named one, or every one matching a label selector, sorted by name.
package lookup

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/heptio/ark/internal/cli/flags"
)

// Fetch fills *items (the Items of list) with the named objects of kind in
// namespace ns or, without names, with every one matching selector, sorted by
// name. A missing named object is an error naming it.
func Fetch[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, c client.Client, list client.ObjectList, items *[]T, kind, ns, selector string, names []string) error {
	if len(names) > 0 {
		for _, n := range names {
			var o T
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, PT(&o)); err != nil {
				return fmt.Errorf("%s %q: %w", kind, n, err)
			}
			*items = append(*items, o)
		}
		return nil
	}
	opts, err := flags.ListOptions(ns, selector)
	if err != nil {
		return err
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return err
	}
	s := *items
	sort.Slice(s, func(i, j int) bool { return PT(&s[i]).GetName() < PT(&s[j]).GetName() })
	return nil
}
