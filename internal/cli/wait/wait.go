// Package wait follows a backup or restore until it finishes, printing its
// progress, and says so when the server does not pick it up.
package wait

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Poll is one look at the object: whether it is finished, a progress line,
// and whether it is still New (not yet picked up by a server).
type Poll func(ctx context.Context) (done bool, line string, isNew bool, err error)

// StuckAfter is how long an object may stay New before the hint is printed.
var StuckAfter = 15 * time.Second

// For polls until done, printing each new progress line. When the object
// stays New for StuckAfter, it prints stuckHint once.
func For(ctx context.Context, out io.Writer, poll Poll, stuckHint string) error {
	start := time.Now()
	hinted := false
	last := ""
	for {
		done, line, isNew, err := poll(ctx)
		if err != nil {
			return err
		}
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if done {
			return nil
		}
		if isNew && !hinted && time.Since(start) > StuckAfter {
			fmt.Fprintln(out, stuckHint)
			hinted = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ServerHint is what to check when nothing processes Ark's objects, as the
// troubleshooting guide says.
func ServerHint(kind, namespace string) string {
	return fmt.Sprintf("The %s is still New: no Ark server has processed it. Check that the server runs and has its Config:\n"+
		"  kubectl -n %s describe pods\n  kubectl -n %s logs deployment/ark\n  kubectl -n %s get config default",
		kind, namespace, namespace, namespace)
}
