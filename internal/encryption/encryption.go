// Package encryption is Ark's client-side encryption: the archive and the
// log of a backup are encrypted on the server, before they leave it, with
// age (age-encryption.org/v1): X25519 key agreement and ChaCha20-Poly1305
// over 64 KiB chunks, each authenticated, the last one marked, so a
// truncated, reordered or modified file fails to decrypt rather than
// yielding altered data. Encryption and decryption stream, so memory stays
// flat whatever the archive's size.
//
// Why age: it is a small, well-kept, audited library by the maintainer of
// Go's cryptography, with one format and no options to get wrong; its files
// can be read with the standard age tool (age -d -i key.txt), so a bucket
// stays readable without Ark in a disaster; and an identities file holding
// several keys is exactly what key rotation needs. A raw 256-bit AES-GCM key
// would need a chunked format of Ark's own, which no other tool reads.
//
// The keys are age identities (AGE-SECRET-KEY-1...), one a line, in a
// Secret. New backups are encrypted to the first; every identity listed
// can decrypt, so rotation is adding a new key at the top and keeping the
// old ones while backups made with them are kept.
package encryption

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	arkv1 "github.com/heptio/ark/api/v1"
)

// Format is the name of the format in a backup's status.encryption.
const Format = "age"

// header starts every age file (the format's version line).
const header = "age-encryption.org/v1\n"

// IsEncrypted reports whether data (the start of a file) is an age file.
func IsEncrypted(start []byte) bool { return bytes.HasPrefix(start, []byte(header)) }

// HeaderLen is how many bytes IsEncrypted needs.
const HeaderLen = len(header)

// ErrWrongKey means none of the keys decrypts a file.
var ErrWrongKey = errors.New("no key of the keyring opens the file")

// Keyring is the identities of an encryption Secret.
type Keyring struct {
	// source names where the keys came from, for messages ("Secret
	// heptio-ark/ark-encryption, key identities").
	source string
	// secretName is recorded in the backups it encrypts.
	secretName string
	identities []age.Identity
	// recipients are the identities' public keys, in the same order.
	recipients []string
	current    age.Recipient
}

// Parse reads age identities, one a line (blank lines and # comments are
// skipped), as age-keygen writes them. source names where they came from;
// secretName is the Secret's name recorded in the backups.
func Parse(data []byte, source, secretName string) (*Keyring, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's messages name the line, never the key.
		return nil, fmt.Errorf("%s does not hold age identities (%v): it must hold lines such as AGE-SECRET-KEY-1..., as 'age-keygen' writes them (see docs/encryption.md)", source, err)
	}
	k := &Keyring{source: source, secretName: secretName, identities: ids}
	for i, id := range ids {
		var r age.Recipient
		var name string
		switch id := id.(type) {
		case *age.X25519Identity:
			r, name = id.Recipient(), id.Recipient().String()
		case *age.HybridIdentity:
			r, name = id.Recipient(), id.Recipient().String()
		default:
			return nil, fmt.Errorf("%s: identity %d is of a kind Ark cannot encrypt to (%T): use keys made by 'age-keygen'", source, i+1, id)
		}
		if i == 0 {
			k.current = r
		}
		k.recipients = append(k.recipients, name)
	}
	return k, nil
}

// Generate makes a new identity: the line to put in the Secret, and its
// public key.
func Generate() (identity, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", err
	}
	return id.String(), id.Recipient().String(), nil
}

// Recipient is the public key new files are encrypted to.
func (k *Keyring) Recipient() string { return k.recipients[0] }

// Source names where the keys came from.
func (k *Keyring) Source() string { return k.source }

// Has reports whether the keyring holds the identity of recipient.
func (k *Keyring) Has(recipient string) bool {
	for _, r := range k.recipients {
		if r == recipient {
			return true
		}
	}
	return false
}

// Encryption is what a backup encrypted with this keyring records.
func (k *Keyring) Encryption() arkv1.BackupEncryption {
	return arkv1.BackupEncryption{Format: Format, Recipient: k.Recipient(), SecretName: k.secretName}
}

// Encrypt returns the age file of plain, produced as it is read.
func (k *Keyring) Encrypt(plain io.Reader) (io.Reader, error) {
	return age.EncryptReader(plain, k.current)
}

// Decrypt returns the plaintext of an age file, produced as it is read; a
// chunk that fails authentication fails the read. recipient is the public
// key the file was encrypted to, as its backup recorded it ("" when
// unknown), for the message when no key opens it.
func (k *Keyring) Decrypt(sealed io.Reader, recipient string) (io.Reader, error) {
	plain, err := age.Decrypt(sealed, k.identities...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		to := "to a key"
		if recipient != "" {
			to = "to " + recipient
		}
		return nil, fmt.Errorf("%w: it was encrypted %s, and none of the %d key(s) in %s (%s) is its identity: add that key back to the Secret (old keys stay listed until no backup needs them, see docs/encryption.md)",
			ErrWrongKey, to, len(k.identities), k.source, strings.Join(k.recipients, ", "))
	case err != nil:
		return nil, fmt.Errorf("the file is not a readable age file (%v): it was damaged or is not encrypted", err)
	}
	return plain, nil
}
