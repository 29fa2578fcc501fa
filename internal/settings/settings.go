// Package settings is what the server's Config says, in two separate steps:
// Config returns the Config as last loaded (cheap: periods, restore-only
// mode, priorities), and Environment builds the storage clients it names
// (reads credentials), only for the work that uses them. Each Environment is
// built afresh, so a change of the Config or of the credentials its providers
// read (the cloud-credentials secret, mounted as files) takes effect at the
// next backup or restore, without a restart.
package settings

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/backupstore"
	"github.com/heptio/ark/internal/encryption"
	"github.com/heptio/ark/internal/objectstore"
	"github.com/heptio/ark/internal/snapshot"
)

// Settings holds the current Config.
type Settings struct {
	Factory Factory
	// Secrets reads the encryption Secret (uncached, so a rotated key is
	// used at once); nil means encryption cannot be used.
	Secrets client.Reader

	mu  sync.RWMutex
	cfg *arkv1.Config
}

// ErrNoConfig means the server has not found its Config yet.
var ErrNoConfig = errors.New("the Ark server has no Config yet")

// Config returns the current Config (a copy), or ErrNoConfig.
func (s *Settings) Config() (*arkv1.Config, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cfg == nil {
		return nil, ErrNoConfig
	}
	return s.cfg.DeepCopy(), nil
}

// Set makes cfg the current Config.
func (s *Settings) Set(cfg *arkv1.Config) {
	s.mu.Lock()
	s.cfg = cfg.DeepCopy()
	s.mu.Unlock()
}

// Environment is what the current Config names, built: where backups go and
// what snapshots volumes.
type Environment struct {
	Config *arkv1.Config
	Store  *backupstore.Store
	// Volumes is nil when no persistentVolumeProvider is configured.
	Volumes snapshot.BlockStore

	secrets client.Reader
}

// Keys reads the keys of the Config's client-side encryption (a new read
// each time, so a rotated Secret takes effect at the next backup); nil, nil
// when the Config turns encryption off.
func (e *Environment) Keys(ctx context.Context) (*encryption.Keyring, error) {
	enc := e.Config.Encryption
	if enc == nil {
		return nil, nil
	}
	if e.secrets == nil {
		return nil, fmt.Errorf("this server cannot read Secrets, so it cannot use the encryption Secret %s/%s", e.Config.Namespace, enc.SecretName)
	}
	return encryption.Load(ctx, e.secrets, e.Config.Namespace, enc)
}

// Environment builds the stores of the current Config, or says why it
// cannot: ErrNoConfig, an *InvalidConfigError (the Config must be fixed), or
// the provider's own error for refused credentials (the secret must be).
func (s *Settings) Environment() (*Environment, error) {
	cfg, err := s.Config()
	if err != nil {
		return nil, err
	}
	env, err := s.Factory.build(cfg)
	switch {
	case err == nil:
		env.secrets = s.Secrets
		return env, nil
	case errors.Is(err, objectstore.ErrAccessDenied), errors.Is(err, snapshot.ErrCredentials):
		// The Config is fine; the credentials it reads are not. The
		// provider's message names the secret and its fix.
		return nil, err
	}
	return nil, &InvalidConfigError{Err: fmt.Errorf("the server's Config %s/%s is invalid: %w (fix it with 'kubectl -n %s edit config %s')",
		cfg.Namespace, cfg.Name, err, cfg.Namespace, cfg.Name)}
}

// InvalidConfigError says the Config itself must be fixed; other errors of
// Environment (credentials) fail an operation without blaming its spec.
type InvalidConfigError struct{ Err error }

func (e *InvalidConfigError) Error() string { return e.Err.Error() }

func (e *InvalidConfigError) Unwrap() error { return e.Err }

// IsInvalidConfig reports whether err is an InvalidConfigError.
func IsInvalidConfig(err error) bool {
	var ic *InvalidConfigError
	return errors.As(err, &ic)
}
