// Package cancel is what `ark backup cancel` and `ark restore cancel` share:
// set spec.cancel on each named object that is still running (the server
// watches it), then optionally wait until each has stopped.
package cancel

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kind describes the objects one command cancels.
type Kind[T client.Object] struct {
	// Name is the kind as the user types it: "backup" or "restore".
	Name string
	// New returns an empty object to read into.
	New func() T
	// Phase reads the object's phase, Reason its status.failureReason, and
	// Cancel points at its spec.cancel.
	Phase  func(T) string
	Reason func(T) string
	Cancel func(T) *bool
	// Running are the phases in which the object may still be cancelled
	// ("" and New before it starts, InProgress), Cancelled the phase it
	// ends in when it was.
	Running   []string
	Cancelled string
	// NothingToCancel, when set, is added to the message for an object that
	// has finished (e.g. how to remove it instead).
	NothingToCancel func(name string) string
	// Wait waits until the named object's phase is final.
	Wait func(ctx context.Context, cmd *cobra.Command, c client.Client, ns, name string) error
}

// Run cancels the named objects of kind k in namespace ns and, with wait,
// waits until each has stopped; it fails when one finished before the
// cancel reached it.
func Run[T client.Object](cmd *cobra.Command, c client.Client, ns string, names []string, wait bool, k Kind[T]) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	var asked []string
	for _, name := range names {
		obj := k.New()
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s %q not found in namespace %s: check the name with 'ark %s get'", k.Name, name, ns, k.Name)
			}
			return fmt.Errorf("%s %q: %w", k.Name, name, err)
		}
		if phase := k.Phase(obj); !slices.Contains(k.Running, phase) {
			msg := fmt.Sprintf("%s %q is %s: there is nothing to cancel", capitalized(k.Name), name, phase)
			if k.NothingToCancel != nil {
				msg += " (" + k.NothingToCancel(name) + ")"
			}
			fmt.Fprintln(out, msg+".")
			continue
		}
		patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
		if cancel := k.Cancel(obj); !*cancel {
			*cancel = true
			if err := c.Patch(ctx, obj, patch); err != nil {
				return fmt.Errorf("cancelling %s %q: %w", k.Name, name, err)
			}
		}
		fmt.Fprintf(out, "Request to cancel %s %q submitted successfully.\n", k.Name, name)
		asked = append(asked, name)
	}
	if !wait {
		return nil
	}
	for _, name := range asked {
		err := k.Wait(ctx, cmd, c, ns, name)
		obj := k.New()
		if gerr := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); gerr == nil {
			if k.Phase(obj) == k.Cancelled {
				fmt.Fprintf(out, "  %s\n", k.Reason(obj))
				continue // what was asked for
			}
		}
		if err == nil {
			err = fmt.Errorf("%s %s finished before the cancel reached it", k.Name, name)
		}
		return err
	}
	return nil
}

func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
