package backupdiff

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heptio/ark/internal/archive"
)

// Opener opens an archive for reading, from its start, each time it is
// called: a comparison of two backups reads the first one twice when they
// differ.
type Opener func(ctx context.Context) (io.ReadCloser, error)

// Backups compares the archive of a first backup with a second's, without a
// cluster: Gone is in the first only, New in the second only.
//
// The two archives need not list their items in the same order, so the
// first is read once into a digest per item (a 16-byte hash of the item's
// normalized object, keyed by resource, namespace and name: about 100 bytes
// per item with the map's overhead, the only memory that grows with the
// backups), the second is read against it, and, when some items changed,
// the first is read again to compare just those field by field (the
// second's normalized copies of them are kept until then).
func Backups(ctx context.Context, first, second Opener, firstName, secondName string, opts Options) (*Report, error) {
	if opts.Scope == nil {
		return nil, errors.New("backupdiff: Options.Scope is required")
	}
	rep := newReporter(opts.Details)
	for _, u := range opts.Scope.Unmatched {
		rep.note("%s resource %q matches nothing in the cluster or the backups: %v", u.List(), u.Name, u.Err)
	}
	digests := map[itemKey][16]byte{}
	err := eachItem(ctx, first, opts, rep, true, func(k itemKey, obj *unstructured.Unstructured) error {
		digests[k] = digestOf(obj)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", firstName, err)
	}
	changed := map[itemKey]*unstructured.Unstructured{}
	err = eachItem(ctx, second, opts, rep, false, func(k itemKey, obj *unstructured.Unstructured) error {
		d, ok := digests[k]
		switch {
		case !ok:
			rep.add(Item{Status: New, Resource: k.resource, Namespace: k.namespace, Name: k.name})
		case d == digestOf(obj):
			rep.unchanged(k.resource)
		default:
			changed[k] = obj
		}
		delete(digests, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", secondName, err)
	}
	for k := range digests {
		rep.add(Item{Status: Gone, Resource: k.resource, Namespace: k.namespace, Name: k.name})
	}
	digests = nil
	if len(changed) > 0 {
		err := eachItem(ctx, first, opts, nil, false, func(k itemKey, obj *unstructured.Unstructured) error {
			if other, ok := changed[k]; ok {
				rep.compared(Item{Resource: k.resource, Namespace: k.namespace, Name: k.name}, obj, other)
				delete(changed, k)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s again: %w", firstName, err)
		}
		if len(changed) > 0 {
			return nil, fmt.Errorf("%s changed while it was being compared: %d items read the first time were not there the second", firstName, len(changed))
		}
	}
	return rep.report(firstName, secondName, true), nil
}

// eachItem reads an archive and calls fn with every item a restore would
// restore, normalized; the others are counted as skipped when countSkips
// (once, for the first backup). rep nil reports nothing.
func eachItem(ctx context.Context, open Opener, opts Options, rep *reporter, countSkips bool, fn func(itemKey, *unstructured.Unstructured) error) error {
	rc, err := open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	ar, err := archive.NewReader(rc, opts.Limits)
	if err != nil {
		return err
	}
	for {
		item, data, err := ar.Next()
		if err == io.EOF {
			if note := ar.Format().Unverified(); note != "" && rep != nil {
				rep.note("%s", note)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if item.Version != "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, err := decode(item, data)
		if err != nil {
			if rep != nil {
				rep.add(Item{Status: Error, Resource: item.Resource, Namespace: item.Namespace, Name: item.Name, Reason: err.Error()})
			}
			continue
		}
		if ok, _ := opts.Scope.Item(item.Resource, item.Namespace, obj); !ok {
			if rep != nil && countSkips {
				rep.skip(item.Resource)
			}
			continue
		}
		if err := fn(itemKey{item.Resource, item.Namespace, item.Name}, normalized(item.Resource, obj)); err != nil {
			return err
		}
	}
}

// digestOf hashes a normalized object: encoding/json writes map keys in
// order, so equal objects hash the same.
func digestOf(obj *unstructured.Unstructured) [16]byte {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		// Cannot happen for a decoded object; make it differ from all.
		data = []byte(err.Error())
	}
	sum := sha256.Sum256(data)
	return [16]byte(sum[:16])
}
