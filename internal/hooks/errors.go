package hooks

import (
	"errors"
	"strings"
)

// joinErrors joins errors into one whose message reads as one sentence
// list (errors.Join puts each on its own line, which logs badly).
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
