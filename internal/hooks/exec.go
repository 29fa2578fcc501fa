package hooks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	arkv1 "github.com/heptio/ark/api/v1"
)

// DefaultTimeout bounds a hook's command when its spec or annotation gives
// no timeout (Heptio Ark's and Velero's default).
const DefaultTimeout = 30 * time.Second

// Exec is one hook to run: a command in a container of a pod.
type Exec struct {
	// Source says where the hook was read, for logs and messages: `spec
	// hook "freeze"` or `annotations pre.hook.backup.ark.heptio.com/*`.
	Source string
	// Container is the container named by the hook; empty means the pod's
	// first.
	Container string
	Command   []string
	OnError   arkv1.HookErrorMode
	// Timeout bounds the command.
	Timeout time.Duration
	// WaitTimeout bounds, for a restore's exec hook, the wait for its
	// container to run.
	WaitTimeout time.Duration
	// Err is set when the hook could not be read (a malformed annotation):
	// running it fails at once with Err, under its OnError.
	Err error
}

// parseCommand reads a command annotation: a JSON array of strings, or
// anything else as a command without arguments (Heptio Ark's rule).
func parseCommand(key, value string) ([]string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, fmt.Errorf("annotation %s is empty: give the command, e.g. '[\"/bin/sh\", \"-c\", \"sync\"]'", key)
	}
	if !strings.HasPrefix(v, "[") {
		return []string{v}, nil
	}
	var cmd []string
	if err := json.Unmarshal([]byte(v), &cmd); err != nil {
		return nil, fmt.Errorf("annotation %s is not a JSON array of strings (%v): write it as '[\"/bin/sh\", \"-c\", \"sync\"]'", key, err)
	}
	if len(cmd) == 0 || cmd[0] == "" {
		return nil, fmt.Errorf("annotation %s is an empty command: give at least the program, e.g. '[\"sync\"]'", key)
	}
	return cmd, nil
}

// parseOnError reads an on-error annotation; empty means def.
func parseOnError(key, value string, def arkv1.HookErrorMode) (arkv1.HookErrorMode, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "":
		return def, nil
	case "continue":
		return arkv1.HookErrorModeContinue, nil
	case "fail":
		return arkv1.HookErrorModeFail, nil
	}
	return def, fmt.Errorf("annotation %s is %q: use Continue or Fail", key, value)
}

// parseTimeout reads a timeout annotation (a Go duration such as 90s or
// 2m); empty means def.
func parseTimeout(key, value string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return def, fmt.Errorf("annotation %s is %q, not a duration: write it as 30s, 2m or 1h", key, value)
	}
	if d == 0 {
		return def, nil
	}
	return d, nil
}

// durationOr returns d, or def when d is zero (unset).
func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// validateExec returns the problems of an exec hook of a spec; where names it.
func validateExec(where string, command []string, onError arkv1.HookErrorMode, timeouts map[string]time.Duration) []string {
	var problems []string
	if len(command) == 0 || command[0] == "" {
		problems = append(problems, fmt.Sprintf("%s has no command: give exec.command, e.g. [\"/bin/sh\", \"-c\", \"sync\"]", where))
	}
	switch onError {
	case "", arkv1.HookErrorModeContinue, arkv1.HookErrorModeFail:
	default:
		problems = append(problems, fmt.Sprintf("%s: onError is %q: use Continue or Fail", where, onError))
	}
	for _, name := range []string{"timeout", "execTimeout", "waitTimeout"} {
		if d, ok := timeouts[name]; ok && d < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s %s is negative: use a positive duration such as 30s", where, name, d))
		}
	}
	return problems
}
