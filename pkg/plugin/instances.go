package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// instances are the stores a plugin process has built, by an ID derived from
// the plugin's name and config: the server builds its stores afresh for
// every operation, and the same config must not pile up copies.
type instances[T any] struct {
	kind      Kind
	factories map[string]func(map[string]string) (T, error)

	mu    sync.Mutex
	built map[string]T
}

func newInstances[T any](kind Kind, factories map[string]func(map[string]string) (T, error)) *instances[T] {
	return &instances[T]{kind: kind, factories: factories, built: map[string]T{}}
}

func instanceID(name string, config map[string]string) string {
	h := sha256.New()
	h.Write([]byte(name))
	for _, k := range slices.Sorted(maps.Keys(config)) {
		fmt.Fprintf(h, "\x00%s\x00%s", k, config[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// init builds (or finds) the instance for name and config.
func (s *instances[T]) init(name string, config map[string]string) (string, error) {
	factory, ok := s.factories[name]
	if !ok {
		return "", status.Errorf(codes.NotFound, "this binary serves no %s named %q", s.kind, name)
	}
	id := instanceID(name, config)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.built[id]; ok {
		return id, nil
	}
	inst, err := callFactory(factory, config)
	if err != nil {
		return "", toStatus(err)
	}
	s.built[id] = inst
	return id, nil
}

func callFactory[T any](factory func(map[string]string) (T, error), config map[string]string) (inst T, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v)
		}
	}()
	return factory(config)
}

// errUnknownInstance tells the host that this process did not build the
// instance it names (it is a restarted process): the host builds it again.
var errUnknownInstance = status.Error(codes.FailedPrecondition, "unknown instance")

func (s *instances[T]) get(id string) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, ok := s.built[id]
	if !ok {
		return inst, errUnknownInstance
	}
	return inst, nil
}
