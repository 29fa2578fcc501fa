package encryption

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
)

// DefaultKey is the key of the Secret's data that holds the identities
// when the Config names none.
const DefaultKey = "identities"

// Load reads the keyring of cfg from its Secret in namespace. Every error
// names the Secret and how to fix it.
func Load(ctx context.Context, reader client.Reader, namespace string, cfg *arkv1.EncryptionConfig) (*Keyring, error) {
	key := cfg.Key
	if key == "" {
		key = DefaultKey
	}
	name := namespace + "/" + cfg.SecretName
	var s corev1.Secret
	err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cfg.SecretName}, &s)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("the encryption Secret %s named by Config %s (encryption.secretName) does not exist: create it with 'age-keygen -o key.txt && kubectl -n %s create secret generic %s --from-file=%s=key.txt' (see docs/encryption.md), or remove encryption from the Config",
			name, arkv1.DefaultConfigName, namespace, cfg.SecretName, key)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the encryption Secret %s: %w", name, err)
	}
	data, ok := s.Data[key]
	if !ok {
		have := slices.Sorted(maps.Keys(s.Data))
		return nil, fmt.Errorf("the encryption Secret %s has no key %q (it has: %s): put the age identities under %q, or set encryption.key in Config %s to the key that holds them",
			name, key, strings.Join(have, ", "), key, arkv1.DefaultConfigName)
	}
	return Parse(data, fmt.Sprintf("Secret %s (key %s)", name, key), cfg.SecretName)
}
