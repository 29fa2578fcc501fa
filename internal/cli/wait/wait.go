// Package wait follows a backup or restore until it finishes, printing its
// progress, says so when the server does not pick it up, and turns its final
// phase into the command's outcome.
package wait

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// State is what following needs to know of a backup or restore, read afresh
// on every poll.
type State struct {
	// Phase is the status phase, "" for one no server has looked at.
	Phase string
	// Progress is a line such as "12/40 items backed up", shown while the
	// phase is InProgress.
	Progress         string
	ValidationErrors []string
	FailureReason    string
}

// Terminal phases shared by backups and restores.
const (
	phaseNew              = "New"
	phaseInProgress       = "InProgress"
	phaseCompleted        = "Completed"
	phaseFailed           = "Failed"
	phaseFailedValidation = "FailedValidation"
	phasePartiallyFailed  = "PartiallyFailed"
	// phasePreviewed ends a dry-run restore.
	phasePreviewed = "Previewed"
	// phaseCancelled ends a cancelled backup or restore.
	phaseCancelled = "Cancelled"
)

func (s State) phase() string {
	if s.Phase == "" {
		return phaseNew
	}
	return s.Phase
}

func (s State) done() bool {
	switch s.Phase {
	case phaseCompleted, phasePartiallyFailed, phaseFailed, phaseFailedValidation, phasePreviewed, phaseCancelled:
		return true
	}
	return false
}

func (s State) line() string {
	if s.Phase == phaseInProgress && s.Progress != "" {
		return "Phase: " + s.phase() + ", " + s.Progress
	}
	return "Phase: " + s.phase()
}

// StuckAfter is how long an object may stay New before the hint is printed.
var StuckAfter = 15 * time.Second

// Follow polls the kind ("backup", "restore") named name until it finishes,
// printing each new progress line, and returns its last state. When it stays
// New for StuckAfter, it prints once what to check.
func Follow(ctx context.Context, out io.Writer, kind, namespace string, read func(context.Context) (State, error)) (State, error) {
	start := time.Now()
	hinted := false
	last := ""
	for {
		st, err := read(ctx)
		if err != nil {
			return st, err
		}
		if line := st.line(); line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		if st.done() {
			return st, nil
		}
		if st.phase() == phaseNew && !hinted && time.Since(start) > StuckAfter {
			fmt.Fprintln(out, ServerHint(kind, namespace))
			hinted = true
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Outcome is the command's result for a finished operation: nil when it
// Completed (or, for a dry run, Previewed), else an error with the reasons
// or where to find them.
func Outcome(kind, name string, st State) error {
	switch st.Phase {
	case phaseCompleted, phasePreviewed:
		return nil
	case phaseFailedValidation:
		return fmt.Errorf("%s %s failed validation:\n  %s", kind, name, strings.Join(st.ValidationErrors, "\n  "))
	case phaseFailed:
		return fmt.Errorf("%s %s failed: %s", kind, name, st.FailureReason)
	case phaseCancelled:
		return fmt.Errorf("%s %s was cancelled: %s", kind, name, st.FailureReason)
	}
	return fmt.Errorf("%s %s is %s: run `ark %s describe %s` and `ark %s logs %s` for the reasons", kind, name, st.phase(), kind, name, kind, name)
}

// ServerHint is what to check when nothing processes Ark's objects, as the
// troubleshooting guide says.
func ServerHint(kind, namespace string) string {
	return fmt.Sprintf("The %s is still New: no Ark server has processed it. Check that the server runs and has its Config:\n"+
		"  kubectl -n %s describe pods\n  kubectl -n %s logs deployment/ark\n  kubectl -n %s get config default",
		kind, namespace, namespace, namespace)
}

// Progress is the progress line of an operation that has done n of total
// items ("12/40 items backed up, current resource: secrets").
func Progress(n, total int, done, current string) string {
	line := fmt.Sprintf("%d/%d items %s", n, total, done)
	if current != "" {
		line += ", current resource: " + current
	}
	return line
}
