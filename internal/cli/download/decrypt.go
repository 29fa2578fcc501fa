package download

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/controller-runtime/pkg/client"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/encryption"
)

// Keys says where the CLI finds the keys of encrypted backups: an age
// identities file, else the encryption Secret the Config names (read with
// the user's own access to the cluster).
type Keys struct {
	// File is an age identities file (--key-file); "" reads the Secret.
	File string
	// Client and Namespace read the Config and its Secret.
	Client    client.Client
	Namespace string
}

// Decrypting returns the plaintext of r when r is an age file (an encrypted
// backup's archive or log), else r as it is. recipient is the public key the
// backup recorded ("" when unknown), for messages.
func Decrypting(ctx context.Context, r io.Reader, keys Keys, recipient string) (io.Reader, error) {
	br := bufio.NewReader(r)
	start, _ := br.Peek(encryption.HeaderLen)
	if !encryption.IsEncrypted(start) {
		return br, nil
	}
	kr, err := keys.load(ctx)
	if err != nil {
		return nil, err
	}
	return kr.Decrypt(br, recipient)
}

func (k Keys) load(ctx context.Context) (*encryption.Keyring, error) {
	if k.File != "" {
		data, err := os.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("reading the key file: %w", err)
		}
		return encryption.Parse(data, "key file "+k.File, "")
	}
	var cfg arkv1.Config
	if err := k.Client.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: arkv1.DefaultConfigName}, &cfg); err != nil {
		return nil, fmt.Errorf("the file is encrypted, and the Config that names its key could not be read (%v): pass --key-file with the age identity that decrypts it", err)
	}
	if cfg.Encryption == nil {
		return nil, fmt.Errorf("the file is encrypted, and Config %s/%s names no encryption Secret: pass --key-file with the age identity that decrypts it", k.Namespace, arkv1.DefaultConfigName)
	}
	kr, err := encryption.Load(ctx, k.Client, k.Namespace, cfg.Encryption)
	if err != nil {
		return nil, fmt.Errorf("%w; or pass --key-file with the age identity that decrypts it", err)
	}
	return kr, nil
}
