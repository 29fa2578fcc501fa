package backupdiff

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// DefaultPageSize is how many objects one LIST asks for.
const DefaultPageSize = 500

// cursor walks the live objects of one resource in one namespace (or the
// cluster-scoped ones), a page at a time, in the order the API server lists
// them: by name, as its continue tokens require (they resume after the last
// key returned). The archive holds the objects of a resource and namespace
// in the order the backup listed them, the same one, so the two are merged
// like sorted files: each archive item moves the cursor up to its name.
type cursor struct {
	client   dynamic.ResourceInterface
	pageSize int64
	page     []unstructured.Unstructured
	pos      int
	cont     string
	started  bool
	// last is the last name looked up: an archive item at or before it is
	// out of order and is looked up with a GET instead.
	last string
	// fetched are the names the list had not reached but a GET found: they
	// are in the backup, whenever the list comes to them. Empty unless the
	// list is out of name order.
	fetched map[string]bool
}

func newCursor(client dynamic.ResourceInterface, pageSize int64) *cursor {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	return &cursor{client: client, pageSize: pageSize}
}

// peek returns the next live object, or nil at the end.
func (c *cursor) peek(ctx context.Context) (*unstructured.Unstructured, error) {
	for c.pos >= len(c.page) {
		if c.started && c.cont == "" {
			return nil, nil
		}
		list, err := c.client.List(ctx, metav1.ListOptions{Limit: c.pageSize, Continue: c.cont})
		if err != nil {
			return nil, err
		}
		c.started, c.cont = true, list.GetContinue()
		c.page, c.pos = list.Items, 0
	}
	return &c.page[c.pos], nil
}

func (c *cursor) advance() {
	c.pos++
	if c.pos == len(c.page) {
		c.page = nil // let the page go before the next one is read
		c.pos = 0
	}
}

// seek moves to name: every live object before it is handed to passed (it is
// not in the archive, which is past it), and the object of that name is
// returned, or nil when the cluster has none (the cursor is then past it).
func (c *cursor) seek(ctx context.Context, name string, passed func(*unstructured.Unstructured)) (*unstructured.Unstructured, error) {
	c.last = name
	for {
		obj, err := c.peek(ctx)
		if err != nil || obj == nil {
			return nil, err
		}
		switch n := obj.GetName(); {
		case n < name:
			if !c.fetched[n] {
				passed(obj)
			}
			c.advance()
		case n == name:
			found := obj.DeepCopy()
			c.advance()
			return found, nil
		default:
			return nil, nil
		}
	}
}

// drain hands every remaining live object to passed.
func (c *cursor) drain(ctx context.Context, passed func(*unstructured.Unstructured)) error {
	for {
		obj, err := c.peek(ctx)
		if err != nil || obj == nil {
			return err
		}
		if !c.fetched[obj.GetName()] {
			passed(obj)
		}
		c.advance()
	}
}

// found records a name a GET found ahead of the list.
func (c *cursor) found(name string) {
	if c.fetched == nil {
		c.fetched = map[string]bool{}
	}
	c.fetched[name] = true
}
