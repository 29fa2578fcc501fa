package restore

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	arkv1 "github.com/heptio/ark/api/v1"
)

// results collects warnings and errors from concurrent workers, filed under
// the target namespace of the item, the cluster, or Ark itself. Each one is
// logged too, so that the restore's log tells the whole story on its own.
type results struct {
	log      *slog.Logger // nil: not logged
	mu       sync.Mutex
	warnings arkv1.RestoreResult
	errors   arkv1.RestoreResult
}

func (r *results) arkWarning(format string, args ...any) {
	r.add(&r.warnings, scopeArk, "", format, args...)
}

func (r *results) arkError(format string, args ...any) {
	r.add(&r.errors, scopeArk, "", format, args...)
}

func (r *results) warning(namespace, format string, args ...any) {
	r.add(&r.warnings, scopeOf(namespace), namespace, format, args...)
}

func (r *results) error(namespace, format string, args ...any) {
	r.add(&r.errors, scopeOf(namespace), namespace, format, args...)
}

type scope int

const (
	scopeArk scope = iota
	scopeCluster
	scopeNamespace
)

func scopeOf(namespace string) scope {
	if namespace == "" {
		return scopeCluster
	}
	return scopeNamespace
}

func (r *results) add(into *arkv1.RestoreResult, s scope, namespace, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.log != nil {
		level := slog.LevelWarn
		if into == &r.errors {
			level = slog.LevelError
		}
		attrs := []any{}
		if namespace != "" {
			attrs = append(attrs, "namespace", namespace)
		}
		r.log.Log(context.Background(), level, msg, attrs...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch s {
	case scopeArk:
		into.Ark = append(into.Ark, msg)
	case scopeCluster:
		into.Cluster = append(into.Cluster, msg)
	default:
		if into.Namespaces == nil {
			into.Namespaces = map[string][]string{}
		}
		into.Namespaces[namespace] = append(into.Namespaces[namespace], msg)
	}
}

// sorted returns the results with every list sorted, so that two runs of the
// same restore give the same file whatever order the workers finished in.
func (r *results) sorted() (warnings, errors arkv1.RestoreResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range []*arkv1.RestoreResult{&r.warnings, &r.errors} {
		sort.Strings(res.Cluster)
		for _, msgs := range res.Namespaces {
			sort.Strings(msgs)
		}
	}
	return r.warnings, r.errors
}
