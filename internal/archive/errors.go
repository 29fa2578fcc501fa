package archive

import "fmt"

// InvalidArchiveError is returned by Reader and Extract when an archive is
// refused. Entry names the offending tar entry ("" when the problem is the
// stream as a whole).
type InvalidArchiveError struct {
	Entry  string
	Reason string
	Err    error // underlying cause, if any
}

func (e *InvalidArchiveError) Error() string {
	msg := "invalid backup archive: "
	if e.Entry != "" {
		msg += fmt.Sprintf("entry %q: ", e.Entry)
	}
	msg += e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InvalidArchiveError) Unwrap() error { return e.Err }

func invalid(entry, format string, args ...any) *InvalidArchiveError {
	return &InvalidArchiveError{Entry: entry, Reason: fmt.Sprintf(format, args...)}
}

// ItemError is what Writer.Add returns for an item it refuses (it cannot be
// stored, or it would make the archive exceed what a restore accepts): the
// item was not written and the Writer is still usable, so a backup records
// the item as failed and goes on. Every other error from Add is the
// destination's: the archive is broken, and every later call returns it.
type ItemError struct {
	Item   Item
	Reason string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("archive: cannot add %s: %s", e.Item, e.Reason)
}
