package install

import (
	"context"
	"fmt"
	"io"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager owns the fields `ark install` applies (server-side apply), so
// running it again updates them and leaves other managers' fields alone.
const FieldManager = "ark-install"

// Timeouts of one `ark install`: each request, and the wait for the CRDs to
// be served. Nothing waits longer.
const (
	requestTimeout     = 30 * time.Second
	establishedTimeout = time.Minute
)

// Apply applies objs with server-side apply: namespaces and CRDs first (and
// waits until the CRDs are served, so the Config can be created), then the
// rest in order. It prints one line per object.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, out io.Writer) error {
	var first, crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace":
			first = append(first, o)
		case "CustomResourceDefinition":
			crds = append(crds, o)
		default:
			rest = append(rest, o)
		}
	}
	for _, group := range [][]*unstructured.Unstructured{first, crds} {
		for _, o := range group {
			if err := applyOne(ctx, c, o, out); err != nil {
				return err
			}
		}
	}
	for _, o := range crds {
		if err := waitEstablished(ctx, c, o.GetName()); err != nil {
			return err
		}
	}
	for _, o := range rest {
		if err := applyOne(ctx, c, o, out); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, c client.Client, o *unstructured.Unstructured, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("applying %s: %w", describe(o), err)
	}
	fmt.Fprintf(out, "%s: applied\n", describe(o))
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, establishedTimeout, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the CustomResourceDefinition %s is not served after %s: check the API server with 'kubectl get crd %s -o yaml'",
			name, establishedTimeout, name)
	}
	return nil
}

// describe names an object as kubectl does: kind/name, with its namespace.
func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() != "" {
		return fmt.Sprintf("%s/%s (namespace %s)", o.GetKind(), o.GetName(), o.GetNamespace())
	}
	return fmt.Sprintf("%s/%s", o.GetKind(), o.GetName())
}
