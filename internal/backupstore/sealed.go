package backupstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	arkv1 "github.com/heptio/ark/api/v1"
	"github.com/heptio/ark/internal/archive"
)

// Sealer encrypts a backup's archive and log on their way into the bucket
// and decrypts them on their way out (internal/encryption's Keyring). The
// metadata file stays plain: backup sync, restore validation and the CLI
// read it without the key, and it holds the Backup object (spec, status,
// counts), not the cluster's data.
type Sealer interface {
	Encrypt(plain io.Reader) (io.Reader, error)
	Decrypt(sealed io.Reader, recipient string) (io.Reader, error)
	// Encryption is what a backup sealed with it records.
	Encryption() arkv1.BackupEncryption
}

// StartSealedBackup begins writing the files of backup, its archive and
// log encrypted by sealer.
func (s *Store) StartSealedBackup(backup, id string, sealer Sealer) *BackupRun {
	return &BackupRun{store: s, backup: backup, id: id, sealer: sealer}
}

// Encryption is what the run's backup records of its encryption; nil for a
// run that does not encrypt.
func (r *BackupRun) Encryption() *arkv1.BackupEncryption {
	if r.sealer == nil {
		return nil
	}
	e := r.sealer.Encryption()
	return &e
}

// StoredArchive is the digest and size of the archive object as stored
// (the ciphertext), known once PutArchive succeeded; nil for a run that
// does not encrypt, whose stored archive is the engine's.
func (r *BackupRun) StoredArchive() *arkv1.ArchiveInfo {
	return r.stored
}

// seal encrypts body when the run encrypts; count is then the ciphertext
// as read by the upload.
func (r *BackupRun) seal(body io.Reader) (sealed io.Reader, count *archive.VerifyingReader, err error) {
	if r.sealer == nil {
		return body, nil, nil
	}
	enc, err := r.sealer.Encrypt(body)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypting: %w", err)
	}
	count = archive.NewVerifyingReader(enc)
	return count, count, nil
}

// ArchiveStream reads a backup's archive as the engine wrote it (the
// plaintext tar.gz), decrypting it when the backup is encrypted, and
// checks it against what the backup recorded: the digest of the stored
// object (ciphertext or not) and, for an encrypted backup, of the
// plaintext. The archive's own index then checks each item.
type ArchiveStream struct {
	io.Reader
	body   io.ReadCloser
	stored *archive.VerifyingReader
	// plain is the decrypted stream's digest; nil for a plain backup.
	plain *archive.VerifyingReader
	info  *arkv1.ArchiveInfo
}

// ErrNoKey means an encrypted backup was opened without a key.
var ErrNoKey = errors.New("the backup is encrypted and no key was given")

// OpenArchive opens the archive of backup b; sealer decrypts it when b is
// encrypted (status.encryption), and may be nil otherwise.
func (s *Store) OpenArchive(ctx context.Context, b *arkv1.Backup, sealer Sealer) (*ArchiveStream, error) {
	if b.Status.Encryption != nil && sealer == nil {
		return nil, fmt.Errorf("%w (%s, to %s)", ErrNoKey, b.Status.Encryption.Format, b.Status.Encryption.Recipient)
	}
	body, err := s.GetArchive(ctx, b.Name)
	if err != nil {
		return nil, err
	}
	a := &ArchiveStream{body: body, stored: archive.NewVerifyingReader(body), info: b.Status.Archive}
	a.Reader = a.stored
	if e := b.Status.Encryption; e != nil {
		plain, err := sealer.Decrypt(a.stored, e.Recipient)
		if err != nil {
			body.Close()
			return nil, err
		}
		a.plain = archive.NewVerifyingReader(plain)
		a.Reader = a.plain
	}
	return a, nil
}

// Close closes the object.
func (a *ArchiveStream) Close() error { return a.body.Close() }

// SHA256 is the digest of the archive read (the plaintext).
func (a *ArchiveStream) SHA256() string {
	if a.plain != nil {
		return a.plain.SHA256()
	}
	return a.stored.SHA256()
}

// Verify reads what is left of the stream and checks the digests the
// backup recorded (status.archive): that of the stored object, and, for an
// encrypted backup, that of the plaintext. Anything stored after the end
// of the encrypted file counts in the stored digest, so it fails too.
func (a *ArchiveStream) Verify() error {
	if _, err := io.Copy(io.Discard, a.Reader); err != nil {
		return fmt.Errorf("reading the archive: %w", err)
	}
	if a.info == nil {
		return errors.New("the backup records no digest of its archive (status.archive is empty)")
	}
	if a.plain != nil {
		if _, err := io.Copy(io.Discard, a.stored); err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if err := a.plain.Verify(a.info.PlaintextSHA256, a.info.PlaintextSize); err != nil {
			return fmt.Errorf("after decryption: %w", err)
		}
	}
	if err := a.stored.Verify(a.info.SHA256, a.info.Size); err != nil {
		return fmt.Errorf("as stored: %w", err)
	}
	return nil
}
